#!/bin/sh
# Downloads the static `baton` for Linux x86_64, checks its SHA-256 and
# installs it as DIR/baton. The GitHub action runs it; any other CI can too.
#
# Usage: install.sh DIR
#   BATON_VERSION       release to download, without the leading v (default 0.1.0)
#   BATON_DOWNLOAD_URL  download from here instead (a mirror, an artifact store)
#   BATON_SHA256        the SHA-256 the binary must have; empty: the .sha256
#                       file published next to it (pin it to stop a replaced
#                       download from running)
#
# Needs curl or wget, sha256sum; Baton needs git (>= 2) at run time. The
# GitLab components (templates/*.yml) carry the same steps inline, since a
# component can use no other file of its project.
set -eu

dir="${1:?usage: install.sh DIR}"
version="${BATON_VERSION:-0.1.0}"
url="${BATON_DOWNLOAD_URL:-https://github.com/baton-gitops/baton/releases/download/v$version/baton-x86_64-unknown-linux-musl}"

fail() {
    echo "install.sh: $*" >&2
    exit 1
}

fetch() {
    if command -v curl >/dev/null 2>&1; then
        curl --fail --silent --show-error --location --retry 3 --output "$2" "$1"
    elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$2" "$1"
    else
        fail "downloading baton needs curl or wget"
    fi
}

[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] \
    || fail "the released baton is for Linux x86_64; on $(uname -s)-$(uname -m) build it with cargo install --locked --path host"
command -v git >/dev/null 2>&1 || fail "baton needs git (>= 2) at run time; install it first"

mkdir -p "$dir"
tmp="$dir/baton.download"
fetch "$url" "$tmp" || fail "could not download $url"
expected="${BATON_SHA256:-}"
if [ -z "$expected" ]; then
    fetch "$url.sha256" "$tmp.sha256" || fail "could not download $url.sha256"
    expected="$(cut -d ' ' -f 1 "$tmp.sha256")"
    rm -f "$tmp.sha256"
fi
actual="$(sha256sum "$tmp" | cut -d ' ' -f 1)"
if [ "$actual" != "$expected" ]; then
    rm -f "$tmp"
    fail "checksum mismatch for $url: expected sha256 $expected, got $actual; not installing it"
fi
chmod +x "$tmp"
mv "$tmp" "$dir/baton"
"$dir/baton" --version
