#!/usr/bin/env bash
# Installs the real client libraries the simulator conformance suite drives
# (tests/conformance/, started by tests/e2e/conformance.rs) at pinned
# versions into a virtual environment under target/, so nothing is needed
# globally and a second run costs nothing:
#
#   python-gitlab   drives the GitLab simulator
#   PyGithub        drives the GitHub simulator
#   pytest          runs the suite
#
# Usage: .ci/conformance.sh        (installs into $BATON_CONFORMANCE_VENV,
#                                   default target/conformance/venv; prints
#                                   the venv's directory)
# The e2e test looks in $BATON_CONFORMANCE_VENV, then
# target/conformance/venv. Needs python3 with venv.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${BATON_CONFORMANCE_VENV:-$root/target/conformance/venv}"

PYTHON_GITLAB=8.6.0
PYGITHUB=2.10.0
PYTEST=9.2.0
pins="python-gitlab==$PYTHON_GITLAB PyGithub==$PYGITHUB pytest==$PYTEST"

log() { printf 'conformance.sh: %s\n' "$*" >&2; }

if [ -f "$venv/.installed" ] && [ "$(cat "$venv/.installed")" = "$pins" ]; then
    log "client libraries already installed in $venv ($pins)"
else
    command -v python3 >/dev/null || { log "error: python3 is required"; exit 1; }
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    log "installing $pins into $venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086 # the pins are separate requirements
    "$venv/bin/pip" install --quiet --disable-pip-version-check $pins
    printf '%s' "$pins" > "$venv/.installed"
fi

# The libraries must import, not just be there.
"$venv/bin/python" - >&2 <<'PY'
from importlib.metadata import version
import github, gitlab, pytest  # noqa: F401 (they must import)
print("conformance.sh:", ", ".join(f"{n} {version(n)}" for n in ("python-gitlab", "PyGithub", "pytest")))
PY
echo "$venv"
