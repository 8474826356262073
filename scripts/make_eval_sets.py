"""Write src/reenactor/eval/sets.tsv from the data set's manifest and the committed labels, by a fixed seeded rule.

    .venv/bin/python scripts/make_eval_sets.py [--data ../shared/data]           # (re)write sets.tsv
    .venv/bin/python scripts/make_eval_sets.py --check                           # exit 1 if sets.tsv differs
    .venv/bin/python scripts/make_eval_sets.py --measure [portraits|clips|all]   # re-measure the labels first

Inputs: ``MANIFEST.tsv`` of the data dir, ``src/reenactor/eval/portrait_kinds.tsv``
(portrait kinds: judged by eye, plus small_face / greyscale / multi_face
measured), ``src/reenactor/eval/driver_kinds.tsv`` (per clip: dlib face found,
face size, head translation, clip kind) and ``src/reenactor/eval/tuned_items.tsv``
(the 8 self clips and 10 cross pairs on which the defaults were chosen).
Rerunning gives the identical file; ``tests/real/test_eval_real.py`` checks
that the committed sets.tsv is what the rule writes.

The rule (:mod:`reenactor.eval.setrule`, seed ``SEED = 13``; every draw takes
the candidate with the smallest ``blake2b("13:" + name)`` key, so nothing
depends on a random generator's implementation):

* eligible portraits: not an animal or other negative, a single face, a face
  for dlib and for the pipeline, no recorded exclusion (Vermeer's 3/4 view:
  dlib is unstable on it); eligible clips: dlib finds the face in >= 80 % of
  the sampled first 90 frames (self clips also in frame 0, for dlib and the
  pipeline);
* cross: per driver source (the manifest's ``origin`` repository)
  ``max(1, 3 - tuned pairs of that source)`` new pairs, drivers in key order
  (clips of the tuned items last); as many new portraits, each used once and
  none of the tuned items', drawn round-robin over the portrait kinds
  (greyscale, glasses, small_face, painting, digital, beard, teeth, photo:
  always the kind with the fewest portraits so far), paired with the drivers
  in key order, never the same identity;
* self: per source ``max(1, 2 - tuned clips of that source)`` new clips, each
  time the one whose clip kind (crop, translation, uncropped) is rarest so
  far, then the smallest key;
* halves: tuned items are dev; the others, in key order, go to the half with
  fewer items of their driver source, then fewer items of their kinds
  (portrait kinds for cross, clip kind for self), then fewer items, then check.

``--measure`` re-measures the labels' numeric columns and measured tags with
dlib and the pipeline's face detector (portraits: ~10 s; clips: the first 90
frames of each, every 3rd frame, about a minute on 2 cores), keeping the
judged tags, exclusions and notes; new manifest portraits get a row with no
judged tags, which the set rule rejects until a person labels it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reenactor.errors import ReenactorError
from reenactor.eval import labels as L
from reenactor.eval.setrule import build_sets, load_tuned, render_sets
from reenactor.eval.sets import SETS_FILE, read_manifest, resolve_data_dir


def measure(data: Path, what: str) -> None:
    """Re-measure the label files (``what``: portraits, clips or all)."""
    from reenactor.api import Reenactor
    from reenactor.eval.dlibface import DlibFace
    from reenactor.eval.media import read_image, read_video

    manifest = read_manifest(data)
    face = DlibFace()
    r = Reenactor()
    if what in ("portraits", "all"):
        old = L.read_portrait_labels(strict=False) if L.PORTRAIT_LABELS.is_file() else {}
        new = {}
        for f in sorted(x for x in manifest if x.startswith("portraits/")):
            new[f] = L.measure_portrait(read_image(data / f), face, r, f, old.get(f))
            print(f"{f}\t{','.join(new[f].kinds)}", file=sys.stderr)
        L.write_portrait_labels(new)
    if what in ("clips", "all"):
        new_c = {}
        for f in sorted(x for x in manifest if x.startswith("videos/")):
            new_c[f] = L.measure_clip(read_video(data / f, L.CLIP_FRAMES).frames, face, r, f)
            c = new_c[f]
            print(f"{f}\t{c.kind}\tfound {c.found:.2f}\tface {c.face_frac:.2f}\tshift {c.shift_iod:.2f}", file=sys.stderr)
        L.write_clip_labels(new_c)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None, help="data dir with MANIFEST.tsv (default: $REENACTOR_DATA or ../shared/data)")
    ap.add_argument("--check", action="store_true", help="do not write; exit 1 when sets.tsv differs from what the rule gives")
    ap.add_argument("--measure", nargs="?", const="all", choices=("portraits", "clips", "all"), default=None,
                    help="re-measure the label files first (dlib + the pipeline's face detector)")
    ap.add_argument("--out", type=Path, default=SETS_FILE, help=f"file to write (default {SETS_FILE})")
    args = ap.parse_args(argv)
    try:
        data = resolve_data_dir(args.data)
        if args.measure:
            measure(data, args.measure)
        items = build_sets(read_manifest(data), L.read_portrait_labels(), L.read_clip_labels(), load_tuned())
    except ReenactorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    text = render_sets(items)
    if args.check:
        same = args.out.is_file() and args.out.read_text(encoding="utf-8") == text
        print(f"{args.out}: {'up to date' if same else 'DIFFERS from the rule'}")
        return 0 if same else 1
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc}", file=sys.stderr)
        return 2
    for protocol in ("self", "cross"):
        for half in ("dev", "check"):
            n = sum(it.protocol == protocol and it.half == half for it in items)
            print(f"{protocol} {half}: {n} items")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
