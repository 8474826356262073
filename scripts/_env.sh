# Sourced by the scripts here: find Python 3.10-3.12, make .venv, install the project.
# Usage: . scripts/_env.sh [EXTRAS]   (EXTRAS like "test,eval")
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
  py=""
  for cand in python3.12 python3.11 python3.10 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(0 if (3,10) <= sys.version_info[:2] <= (3,12) else 1)'; then
      py="$cand"; break
    fi
  done
  if [ -z "$py" ]; then
    echo "reenactor needs Python 3.10, 3.11 or 3.12 (mediapipe 0.10.21 has no wheel for newer)" >&2; exit 1
  fi
  "$py" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
# torch (train extra): pin the release whose CPU wheel this project is tested with,
# so pip does not pull a multi-GB CUDA build for the test and training tiers.
case ",$extras," in
  *,train,*) .venv/bin/python -m pip install --quiet --disable-pip-version-check "torch==2.13.0" ;;
esac
spec="."
[ -n "$extras" ] && spec=".[${extras}]"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec"
export PATH="$PWD/.venv/bin:$PATH"
