# Sourced by the scripts here: find Python 3.10-3.13, make a virtual environment, install the project.
# Usage: . scripts/_env.sh [EXTRAS]   (EXTRAS like "test,eval"; "train" is installed where the
#        pinned torch CPU wheel exists, Python 3.11, and skipped with a note elsewhere)
# Environment: REENACTOR_PYTHON=3.13 picks that Python version (found on PATH or through pyenv);
#              REENACTOR_VENV=.venv-313 names the environment folder (default .venv).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
extras="${1:-}"
venv="${REENACTOR_VENV:-.venv}"

supported() { "$1" -c 'import sys; sys.exit(0 if (3,10) <= sys.version_info[:2] <= (3,13) else 1)' >/dev/null 2>&1; }

find_python() {  # prints a usable interpreter: $REENACTOR_PYTHON if set, else the newest of 3.13..3.10
  local versions="${REENACTOR_PYTHON:-3.13 3.12 3.11 3.10}" v cand
  for v in $versions; do
    for cand in "python$v" "$(command -v pyenv >/dev/null 2>&1 && PYENV_VERSION="$(pyenv versions --bare 2>/dev/null | grep -E "^$v(\.|$)" | tail -1)" pyenv which "python$v" 2>/dev/null)"; do
      if [ -n "$cand" ] && command -v "$cand" >/dev/null 2>&1 && supported "$cand" \
         && "$cand" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$v' else 1)" 2>/dev/null; then
        echo "$cand"; return 0
      fi
    done
  done
  if [ -z "${REENACTOR_PYTHON:-}" ] && command -v python3 >/dev/null 2>&1 && supported python3; then echo python3; return 0; fi
  return 1
}

if [ ! -x "$venv/bin/python" ]; then
  if ! py="$(find_python)"; then
    echo "reenactor needs Python ${REENACTOR_PYTHON:-3.10 to 3.13}; none was found on PATH or through pyenv" >&2; exit 1
  fi
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
fi
pyver="$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
# torch (train extra): pin the release whose CPU wheel this project is tested with,
# so pip does not pull a multi-GB CUDA build for the test and training tiers.
case ",$extras," in
  *,train,*)
    if [ "$pyver" = "3.11" ]; then
      "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
    else
      echo "note: the torch CPU wheel is pinned for Python 3.11; on $pyver the training extra and its tests are skipped" >&2
      extras="$(echo ",$extras," | sed 's/,train,/,/; s/^,//; s/,$//')"
    fi ;;
esac
spec="."
[ -n "$extras" ] && spec=".[${extras}]"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec"
export PATH="$PWD/$venv/bin:$PATH"
