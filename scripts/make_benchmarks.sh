#!/usr/bin/env bash
# Regenerate docs/benchmarks.md and docs/benchmarks/*.{jpg,png} from a full evaluation run.
#
#   scripts/make_benchmarks.sh [extra `reenactor eval` options, e.g. --data DIR]
#
# Runs `reenactor eval --protocol all` (both protocols, both halves of the fixed sets in
# src/reenactor/eval/sets.tsv: 28 self clips, 49 cross pairs; about 50 min on 2 CPU cores),
# keeps the full report in out/benchmarks/ (results.json, report.html; not committed) and
# rewrites the docs page. The data folder is $REENACTOR_DATA or ../shared/data next to the
# checkout. Hand-written notes between the NOTES markers of docs/benchmarks.md are kept.
. "$(dirname "$0")/_env.sh" "eval"
# reenactor-ref0: the pipeline with --reference-frame 0 (self protocol only), to check
# that the automatic reference matches it. Other variants (reenactor-irises,
# reenactor-warponly, reenactor-mouth-learned, reenactor-ldnet) take --methods.
python -m reenactor.eval --protocol all --out out/benchmarks \
  --methods static,driver,naive2d,reenactor,reenactor-ref0 \
  --markdown docs/benchmarks.md --assets docs/benchmarks "$@"
du -ch docs/benchmarks/* | tail -1
