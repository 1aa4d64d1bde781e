#!/usr/bin/env bash
# Install thoth-monitoring from a source tree into a new virtual environment, as the container
# image does (the Containerfile runs exactly this script) and as tests/e2e/test_image.py checks.
set -euo pipefail

usage() {
    cat <<USAGE
usage: install.sh [--python PYTHON] [SOURCE_DIR [VENV_DIR]]

Build the thoth-monitoring wheel from SOURCE_DIR (default: the checkout this script is in),
install it with its runtime dependencies (no extras) into a new virtual environment VENV_DIR
(default: /opt/thoth-monitoring), byte-compile it, and check that 'thoth-monitoring --help' runs.

  --python PYTHON   the interpreter the environment is made from (default: python3)
  -h, --help        show this help

pip reads its usual configuration (PIP_INDEX_URL, PIP_NO_CACHE_DIR, pip.conf, ...). The build
leaves setuptools' build/ and *.egg-info in SOURCE_DIR (the Containerfile builds from a copy).
USAGE
}

fail() {
    echo "install.sh: error: $*" >&2
    exit 1
}

python=python3
positional=()
while (($#)); do
    case "$1" in
    -h | --help) usage; exit 0 ;;
    --python) (($# >= 2)) || fail "--python needs a value"; python=$2; shift 2 ;;
    --python=*) python=${1#--python=}; shift ;;
    -*) fail "unknown option '$1' (see --help)" ;;
    *) positional+=("$1"); shift ;;
    esac
done
((${#positional[@]} <= 2)) || fail "expected at most SOURCE_DIR and VENV_DIR, got ${#positional[@]} arguments"

here=$(cd "$(dirname "$0")" && pwd)
source_dir=${positional[0]:-$here/../..}
venv=${positional[1]:-/opt/thoth-monitoring}

[[ -f $source_dir/pyproject.toml ]] || fail "no pyproject.toml in source directory '$source_dir'"
# Absolute, so that pip reads it as a folder and never as the name of a package on the index.
source_dir=$(cd "$source_dir" && pwd)
command -v "$python" >/dev/null || fail "interpreter '$python' not found"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || fail "'$python' is $("$python" -V 2>&1); thoth-monitoring needs Python >= 3.11"
if [[ -e $venv ]] && [[ -n $(ls -A "$venv") ]]; then
    fail "'$venv' exists and is not empty; give a new folder"
fi
[[ $venv == /* ]] || venv=$PWD/$venv

dist=$(mktemp -d)
trap 'rm -rf "$dist"' EXIT

# The wheel, not an editable install: the environment must not depend on the source tree.
"$python" -m pip wheel --quiet --no-deps --wheel-dir "$dist" "$source_dir" \
    || fail "building the wheel from '$source_dir' failed"
wheels=("$dist"/thoth_monitoring-*.whl)
[[ -f ${wheels[0]} ]] || fail "the build left no thoth_monitoring wheel in $dist"

"$python" -m venv "$venv" || fail "creating the virtual environment '$venv' failed"
"$venv/bin/python" -m pip install --quiet "${wheels[0]}" \
    || fail "installing ${wheels[0]##*/} and its dependencies into '$venv' failed"

# Compiled once here, checked against nothing at import: the image's root filesystem is
# read-only and PYTHONDONTWRITEBYTECODE is set, so nothing could be compiled later.
"$venv/bin/python" -m compileall -q -f -j 0 --invalidation-mode unchecked-hash \
    "$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" \
    >/dev/null || fail "byte-compiling '$venv' failed"

"$venv/bin/thoth-monitoring" --help >/dev/null || fail "'$venv/bin/thoth-monitoring --help' failed"
echo "installed ${wheels[0]##*/} into $venv"
