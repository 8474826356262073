#!/usr/bin/env bash
# Short LD-Net runs with equal budgets for docs/ldnet.md: the identity-count
# curve (people x synthetic variants) and the 2D vs pose-normalised 3D comparison.
# Usage: scripts/ldnet_curve.sh [RUNS_DIR] [CACHE_DIR]   (one run at a time, 1 thread)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs="${1:-out/ldnet_runs}"
cache="${2:-$HOME/.cache/reenactor/landmarks}"
budget=(--steps1 400 --steps2 800 --threads 1 --seed 0 --val-every 200 --no-export -q)
train() { .venv/bin/reenactor train ldnet --data ../shared/data --cache "$cache" "${budget[@]}" "$@"; }
for spec in "4 0" "13 0" "53 0" "13 8" "53 8"; do
  set -- $spec
  out="$runs/curve_p$1_a$2"
  [ -f "$out/ldnet.json" ] || train --out "$out" --max-persons "$1" --augment "$2"
done
[ -f "$runs/space_2d/ldnet.json" ] || train --out "$runs/space_2d" --augment 8 --space 2d
