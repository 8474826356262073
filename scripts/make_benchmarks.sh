#!/usr/bin/env bash
# Regenerate docs/benchmarks.md and docs/benchmarks/*.{jpg,png} from a full evaluation run.
#
#   scripts/make_benchmarks.sh [extra `reenactor eval` options, e.g. --data DIR]
#
# Runs `reenactor eval --protocol all` (both protocols, every method, the fixed sets in
# src/reenactor/eval/sets.tsv; about 10-12 min on 2 CPU cores), keeps the full report in
# out/benchmarks/ (results.json, report.html; not committed) and rewrites the docs page.
# The data folder is $REENACTOR_DATA or ../shared/data next to the checkout.
# Hand-written notes between the NOTES markers of docs/benchmarks.md are kept.
. "$(dirname "$0")/_env.sh" "eval"
# reenactor-warponly is the 0.1 warp-only pipeline, the baseline the realism
# layers are measured against; reenactor-mouth-learned the shipped inner-mouth
# network instead of the driver's mouth; reenactor-ldnet the learned retargeting.
python -m reenactor.eval --protocol all --out out/benchmarks \
  --methods static,driver,naive2d,reenactor-warponly,reenactor,reenactor-mouth-learned,reenactor-ldnet \
  --markdown docs/benchmarks.md --assets docs/benchmarks "$@"
du -ch docs/benchmarks/* | tail -1
