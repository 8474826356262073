#!/usr/bin/env bash
# Regenerate docs/ldnet.md (+ docs/ldnet/*.png, *.json) from the shipped LD-Net.
# Usage: scripts/make_ldnet_doc.sh [RUNS_DIR] [CACHE_DIR] [EVAL_DIR]
# RUNS_DIR holds the runs of scripts/ldnet_curve.sh (and main/ = the shipped
# model's run); runs and EVAL_DIR (`reenactor eval --protocol cross --methods
# reenactor,reenactor-ldnet --out EVAL_DIR`) are optional: without them the
# figures already kept in docs/ldnet/*.json are reused.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs="${1:-out/ldnet_runs}"
cache="${2:-$HOME/.cache/reenactor/landmarks}"
evaldir="${3:-}"
extra=()
curve=( "$runs"/curve_p*_a* )
[ -f "${curve[0]}/ckpt.pt" ] && extra+=(--curve-runs "${curve[@]}")
[ -f "$runs/space_2d/ckpt.pt" ] && [ -f "$runs/curve_p53_a8/ckpt.pt" ] && extra+=(--space-runs "$runs/curve_p53_a8" "$runs/space_2d")
[ -f "$runs/main/log.jsonl" ] && extra+=(--train-log "$runs/main/log.jsonl")
[ -n "$evaldir" ] && extra+=(--eval "$evaldir")
.venv/bin/python -m reenactor.train.ldnet_report --cache "$cache" --out docs/ldnet.md --update-card "${extra[@]}"
