# Sourced by the build scripts of Python policies: installs the pinned
# toolchain into a virtual environment of its own when it is missing and
# generates the SDK's bindings from the contract (`wit/`).
#
# BATON_TOOLCHAIN_CACHE overrides where the toolchain lives (default:
# target/polyglot/ of this repository); BATON_PYTHON names the Python used
# to create the virtual environment (default: python3). A project made by
# `baton policy new` sets BATON_WIT and BATON_PY_SDK to its own copies.

COMPONENTIZE_PY_VERSION=0.25.1
PYTEST_VERSION=9.2.0

BATON_PY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BATON_REPO="$(cd "$BATON_PY_DIR/../.." && pwd)"
BATON_WIT="${BATON_WIT:-$BATON_REPO/wit}"
BATON_PY_SDK="${BATON_PY_SDK:-$BATON_PY_DIR/sdk}"
BATON_PY_CACHE="${BATON_TOOLCHAIN_CACHE:-$BATON_REPO/target/polyglot}/python-$COMPONENTIZE_PY_VERSION"
BATON_PY_VENV="$BATON_PY_CACHE/venv"

# Creates the virtual environment with the pinned componentize-py and
# pytest unless it is already there.
baton_python_toolchain() {
    if [ ! -x "$BATON_PY_VENV/bin/componentize-py" ] || [ ! -x "$BATON_PY_VENV/bin/pytest" ]; then
        echo "installing componentize-py $COMPONENTIZE_PY_VERSION and pytest $PYTEST_VERSION into $BATON_PY_VENV" >&2
        rm -rf "$BATON_PY_VENV"
        mkdir -p "$BATON_PY_CACHE"
        "${BATON_PYTHON:-python3}" -m venv "$BATON_PY_VENV"
        "$BATON_PY_VENV/bin/pip" install --quiet --disable-pip-version-check \
            "componentize-py==$COMPONENTIZE_PY_VERSION" "pytest==$PYTEST_VERSION"
    fi
}

# Regenerates the SDK's bindings (sdk/bindings/, git-ignored) from wit/.
baton_python_bindings() {
    local out="$BATON_PY_SDK/bindings"
    rm -rf "$out"
    "$BATON_PY_VENV/bin/componentize-py" -q -d "$BATON_WIT" -w promotion-policy-core bindings "$out"
}

# Builds the component `$2` from the app module `$1` in directory `$3`:
# WASI imports are replaced by trapping stubs, so the component imports
# nothing but baton:policy interfaces; built for `promotion-policy-core`
# (componentize-py links every import of its world, and this one has no
# metrics, so the policy loads where no metrics: is configured).
baton_python_componentize() {
    local app="$1" out="$2" dir="$3"
    "$BATON_PY_VENV/bin/componentize-py" -q -d "$BATON_WIT" -w promotion-policy-core \
        componentize --stub-wasi -p "$dir" -p "$BATON_PY_SDK" "$app" -o "$out"
    "$BATON_PY_VENV/bin/python" "$BATON_PY_DIR/producers.py" "$out" "$COMPONENTIZE_PY_VERSION"
}
