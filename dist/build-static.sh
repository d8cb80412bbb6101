#!/usr/bin/env bash
# Builds a self-contained Linux x86_64 `baton` (musl, statically linked) and
# its SHA-256 checksum, ready to publish as a release asset that any CI image
# with `git` can download and run.
#
# Usage: dist/build-static.sh [OUT_DIR]      (default OUT_DIR: target/dist)
#
# Writes OUT_DIR/baton-x86_64-unknown-linux-musl and
# OUT_DIR/baton-x86_64-unknown-linux-musl.sha256 (`sha256sum` format, so
# `sha256sum -c` checks it), then prints the size. Installs what the build
# needs: the Rust target through rustup (the toolchain is pinned by
# rust-toolchain.toml) and Debian's musl-tools, whose musl-gcc compiles the C
# and assembly that the `ring` crate (TLS) carries. CARGO_TARGET_DIR is
# honoured; by default the build shares the repository's target/ (the
# release musl output lives in its own subdirectory there, and the
# wasm32-wasip2 policies already built for tests are reused).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
target=x86_64-unknown-linux-musl
name="baton-$target"
out_dir="${1:-$root/target/dist}"

log() { printf 'build-static: %s\n' "$*" >&2; }
fail() { log "error: $*"; exit 1; }

[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] \
    || fail "this script builds on Linux x86_64 only (this is $(uname -s)-$(uname -m))"

cd "$root"
# The toolchain rust-toolchain.toml pins, with the musl target and the
# wasm32-wasip2 target the embedded policies are built for.
channel="$(sed -n 's/^channel = "\(.*\)"$/\1/p' rust-toolchain.toml)"
[ -n "$channel" ] || fail "no channel in rust-toolchain.toml"
rustup toolchain install "$channel" --profile minimal --target "$target" --target wasm32-wasip2

if ! command -v musl-gcc >/dev/null 2>&1; then
    log "musl-gcc not found: installing Debian's musl-tools"
    sudo_cmd=()
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || fail "musl-tools is missing and there is no sudo to install it; run: apt-get install musl-tools"
        sudo_cmd=(sudo)
    fi
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq musl-tools
fi

start=$(date +%s)
# The host's own flags (e.g. a developer's RUSTFLAGS with target-cpu=native)
# would make the binary unportable; the musl target links statically by
# default, so no flags are needed.
env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS \
    cargo build --locked --release --target "$target" -p baton --bin baton
elapsed=$(( $(date +%s) - start ))

target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
binary="$target_dir/$target/release/baton"
[ -x "$binary" ] || fail "cargo finished but $binary is missing"

# Static means: no program interpreter and no shared libraries. glibc's ldd
# says "not a dynamic executable" for a static executable and "statically
# linked" for a static-PIE one (what Rust's musl target produces); both are
# self-contained. readelf checks the same thing without running the binary.
ldd_out="$(ldd "$binary" 2>&1 || true)"
case "$ldd_out" in
    *"not a dynamic executable"*|*"statically linked"*) ;;
    *) fail "$binary is dynamically linked; ldd says: $ldd_out" ;;
esac
if command -v readelf >/dev/null 2>&1; then
    if readelf --program-headers "$binary" | grep -q INTERP; then
        fail "$binary has a program interpreter (PT_INTERP): it is not static"
    fi
    if readelf --dynamic "$binary" | grep -q NEEDED; then
        fail "$binary needs shared libraries: $(readelf --dynamic "$binary" | grep NEEDED)"
    fi
fi
"$binary" --version >/dev/null || fail "$binary does not run"

mkdir -p "$out_dir"
cp "$binary" "$out_dir/$name"
(cd "$out_dir" && sha256sum "$name" > "$name.sha256")

size=$(stat -c %s "$out_dir/$name")
log "ldd: $ldd_out"
log "built in ${elapsed}s"
printf '%s\t%s bytes (%s MiB)\n' "$out_dir/$name" "$size" "$(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1048576 }')"
printf '%s\t%s\n' "$out_dir/$name.sha256" "$(cut -d' ' -f1 "$out_dir/$name.sha256")"
