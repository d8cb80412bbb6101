# Sourced by the build scripts of JavaScript policies: installs the pinned
# toolchain (toolchain/package-lock.json: componentize-js, jco) when it is
# missing and generates the SDK's typings from the contract (`wit/`).
#
# BATON_TOOLCHAIN_CACHE overrides where the toolchain lives (default:
# target/polyglot/ of this repository). A project made by `baton policy new`
# sets BATON_WIT and BATON_JS_SDK to its own copies.

BATON_JS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BATON_REPO="$(cd "$BATON_JS_DIR/../.." && pwd)"
BATON_WIT="${BATON_WIT:-$BATON_REPO/wit}"
BATON_JS_SDK="${BATON_JS_SDK:-$BATON_JS_DIR/sdk}"
BATON_JS_LOCK="$BATON_JS_DIR/toolchain/package-lock.json"
BATON_JS_CACHE="${BATON_TOOLCHAIN_CACHE:-$BATON_REPO/target/polyglot}/js-$(sha256sum "$BATON_JS_LOCK" | cut -c1-12)"

# Installs the locked toolchain into the cache unless it is already there.
baton_js_toolchain() {
    if [ ! -x "$BATON_JS_CACHE/node_modules/.bin/componentize-js" ]; then
        echo "installing componentize-js and jco (toolchain/package-lock.json) into $BATON_JS_CACHE" >&2
        rm -rf "$BATON_JS_CACHE"
        mkdir -p "$BATON_JS_CACHE"
        cp "$BATON_JS_DIR/toolchain/package.json" "$BATON_JS_LOCK" "$BATON_JS_CACHE/"
        (cd "$BATON_JS_CACHE" && npm ci --no-audit --no-fund --loglevel=error >&2)
    fi
}

# Regenerates the SDK's typings (sdk/types/, git-ignored) from wit/ with jco.
baton_js_types() {
    rm -rf "$BATON_JS_SDK/types"
    node "$BATON_JS_DIR/toolchain/gentypes.mjs" "$BATON_JS_CACHE/node_modules" "$BATON_WIT" "$BATON_JS_SDK/types"
}

# Builds the component `$3` from the entry module `$2` (relative to `$1`),
# with every WASI feature componentize-js can disable disabled: the
# component imports nothing but baton:policy interfaces. componentize-js
# lets the module see the directory it runs in and nothing above it, so it
# runs in `$1`, which must hold the entry and every module it imports. The
# world is `promotion-policy-core`: componentize-js links every import of
# its world, and this one has no metrics, so the policy loads where no
# metrics: is configured.
baton_js_componentize() {
    local root="$1" entry="$2" out="$3"
    (cd "$root" && "$BATON_JS_CACHE/node_modules/.bin/componentize-js" "$entry" --wit "$BATON_WIT" \
        -n promotion-policy-core -d stdio random clocks http fetch-event -o "$out" >&2)
}
