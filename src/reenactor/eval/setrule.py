"""The fixed, seeded rule that draws the evaluation sets and splits them into dev and check halves.

Inputs: the data set's ``MANIFEST.tsv`` (identity, origin, size, fps, audio),
the committed labels (:mod:`reenactor.eval.labels`: ``portrait_kinds.tsv``,
``driver_kinds.tsv``) and the 18 items that tuned the defaults
(``tuned_items.tsv``). Output: the text of ``sets.tsv``
(:func:`render_sets`), written by ``scripts/make_eval_sets.py``. Nothing is
random at run time: every draw takes the candidate with the smallest *key*,
``key(x) = blake2b("SEED:x")`` (8 bytes, big-endian) with :data:`SEED`, so the
result depends only on the inputs, never on the Python version or on the
order of the files, and a new file in the data set changes only the draws it
wins.

Rule (sources are the ``origin`` repositories of the manifest, owner and
commit dropped: ``styletalk``, ``dreamtalk``, ``EAMM``, ``SadTalker``, ...):

1. **Eligible.** Portraits: not ``negative``, not ``multi_face`` (dlib measures
   its most confident face, the pipeline animates the largest; they need not
   be the same), no ``exclude`` reason, a face for dlib and for the pipeline.
   Clips: dlib finds a face in at least :data:`MIN_FOUND` of the sampled first
   90 frames; self clips also need a face in frame 0 for dlib and the
   pipeline. Files of the tuned items are not drawn again while a source has
   others.
2. **Cross drivers.** Per source (sorted by name): ``max(1, CROSS_PER_SOURCE -
   tuned cross items of the source)`` new pairs; their drivers are the
   source's eligible clips in key order, unused clips first, cycling when the
   source has fewer clips than pairs.
3. **Cross portraits.** As many as new pairs, each portrait once: repeatedly
   take the kind of :data:`COVER_KINDS` with the fewest portraits so far (tuned
   pairs included; ties in :data:`COVER_KINDS` order; kinds without
   candidates left are skipped) and draw its candidate with the smallest key.
   Portraits are then paired with the drivers in key order of
   ``"pair:" + file`` (a portrait whose identity equals the driver's is
   swapped with the next).
4. **Self clips.** Per source: ``max(1, SELF_PER_SOURCE - tuned self items of
   the source)`` clips, each time the candidate whose clip kind (``crop``,
   ``translation``, ``uncropped``) has the fewest clips so far, then the
   smallest key.
5. **Halves.** Tuned items are ``dev``. The others, in key order of ``"half:" +
   name``, each go to the half with fewer items of the same driver source;
   on a tie, with the smaller sum of counts of the item's kinds (portrait
   kinds of :data:`COVER_KINDS` for cross, the clip kind for self); on a tie,
   with fewer items; on a tie, ``check``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from reenactor.errors import InputError
from reenactor.eval.labels import CLIP_KINDS, ClipLabel, PortraitLabel
from reenactor.eval.sets import HALVES, EvalItem, load_sets

SEED = 13
CROSS_PER_SOURCE = 3
SELF_PER_SOURCE = 2
MIN_FOUND = 0.8
#: Portrait kinds the cross set must cover, in tie-break order (rarest first in the data).
COVER_KINDS = ("greyscale", "glasses", "small_face", "painting", "digital", "beard", "teeth", "photo")
TUNED_FILE = Path(__file__).with_name("tuned_items.tsv")


def key(text: str, seed: int = SEED) -> int:
    """Draw key of ``text``: the first 8 bytes of ``blake2b(f"{seed}:{text}")`` as an integer."""
    return int.from_bytes(hashlib.blake2b(f"{seed}:{text}".encode(), digest_size=8).digest(), "big")


def source_of(origin: str) -> str:
    """``"owner/repo@commit"`` -> ``"repo"`` (the driver source)."""
    return origin.split("@", 1)[0].split("/")[-1]


#: Long file-name prefixes shortened in item names.
_ABBREV = {
    "thin_plate_spline_motion_model_": "tpsmm_",
    "cvpr2022_dagan_": "dagan_",
    "x_portrait_": "xportrait_",
    "video_retalking_": "retalking_",
    "liveportrait_": "lp_",
    "sadtalker_": "st_",
    "deepface_": "df_",
    "dreamtalk_": "mead_",
    "megactor_audio_": "megactor_",
    "aniportrait_": "aniportrait_",
}


def short(path: str) -> str:
    """Item-name part of a data path, e.g. ``videos/LIA__driving1.mp4`` -> ``lia_driving1``.

    Lower case, ``__`` and other non-alphanumerics -> ``_``, the prefixes of
    :data:`_ABBREV` shortened, MEAD's ``_front`` / ``_level3_001`` and
    HDTF's ``_000`` suffix dropped.
    """
    stem = re.sub(r"[^a-z0-9_]+", "_", Path(path).stem.lower().replace("__", "_")).strip("_")
    for long, abbrev in _ABBREV.items():
        if stem.startswith(long):
            stem = abbrev + stem[len(long):]
            break
    stem = re.sub(r"_front|_level\d_\d{3}$|_000$", "", stem)
    return stem


def load_tuned(path: str | Path = TUNED_FILE) -> list[EvalItem]:
    """The items that tuned the defaults (5 columns, as the first ``sets.tsv``), all ``dev``."""
    return load_sets(path, default_half="dev")


@dataclass
class _Inputs:
    manifest: dict[str, dict[str, str]]
    portraits: dict[str, PortraitLabel]
    clips: dict[str, ClipLabel]
    tuned: list[EvalItem]


def _check_labels(inp: _Inputs) -> None:
    for f in inp.manifest:
        if f.startswith("portraits/") and f not in inp.portraits:
            raise InputError(f"{f} has no row in portrait_kinds.tsv (label it, then run make_eval_sets.py --measure)")
        if f.startswith("videos/") and f not in inp.clips:
            raise InputError(f"{f} has no row in driver_kinds.tsv (run make_eval_sets.py --measure)")
    for f in list(inp.portraits) + list(inp.clips):
        if f not in inp.manifest:
            raise InputError(f"label for {f}, which is not in MANIFEST.tsv")


def eligible_portrait(lab: PortraitLabel) -> bool:
    """Rule step 1 for a portrait."""
    return (
        "negative" not in lab.kinds
        and "multi_face" not in lab.kinds
        and lab.exclude == "-"
        and lab.dlib_faces >= 1
        and lab.pipeline_faces >= 1
    )


def eligible_driver(lab: ClipLabel) -> bool:
    """Rule step 1 for a cross driver."""
    return lab.found >= MIN_FOUND


def eligible_self(lab: ClipLabel) -> bool:
    """Rule step 1 for a self clip."""
    return lab.found >= MIN_FOUND and lab.frame0_dlib == 1 and lab.frame0_pipeline == 1


def _sources(inp: _Inputs) -> list[str]:
    return sorted({source_of(r["origin"]) for f, r in inp.manifest.items() if f.startswith("videos/")})


def _clip_why(inp: _Inputs, f: str) -> str:
    r = inp.manifest[f]
    c = inp.clips[f]
    return f"{source_of(r['origin'])} {r['size']} {float(r['fps']):g}fps, audio {r['audio']}; {c.kind} (face {c.face_frac:.2f} of the frame, moves {c.shift_iod:.2f} IOD)"


def _draw_cross(inp: _Inputs, used: set[str]) -> list[tuple[str, str]]:
    tuned = [it for it in inp.tuned if it.protocol == "cross"]
    slots: list[str] = []
    for src in _sources(inp):
        n_tuned = sum(source_of(inp.manifest[it.driver]["origin"]) == src for it in tuned)
        cands = [f for f, r in inp.manifest.items() if f.startswith("videos/") and source_of(r["origin"]) == src and eligible_driver(inp.clips[f])]
        cands.sort(key=lambda f: (f in used, key(f)))
        if cands:
            n = max(1, CROSS_PER_SOURCE - n_tuned)
            slots += [cands[i % len(cands)] for i in range(n)]
    counts = {k: 0 for k in COVER_KINDS}
    for it in tuned:
        for k in inp.portraits[it.portrait].kinds:
            if k in counts:
                counts[k] += 1
    left = sorted((f for f, lab in inp.portraits.items() if eligible_portrait(lab) and f not in used), key=key)
    chosen: list[str] = []
    while len(chosen) < len(slots) and left:
        kinds = [k for k in COVER_KINDS if any(k in inp.portraits[f].kinds for f in left)]
        if not kinds:
            break
        kind = min(kinds, key=lambda k: (counts[k], COVER_KINDS.index(k)))
        f = next(f for f in left if kind in inp.portraits[f].kinds)
        chosen.append(f)
        left.remove(f)
        for k in inp.portraits[f].kinds:
            if k in counts:
                counts[k] += 1
    chosen.sort(key=lambda f: key("pair:" + f))
    pairs = []
    for i, d in enumerate(slots[: len(chosen)]):
        ident = inp.manifest[d]["identity"]
        j = next((j for j in range(i, len(chosen)) if inp.manifest[chosen[j]]["identity"] != ident), None)
        if j is None:
            raise InputError(f"no portrait of another identity left for driver {d}")
        chosen[i], chosen[j] = chosen[j], chosen[i]
        pairs.append((chosen[i], d))
    return pairs


def _draw_self(inp: _Inputs, used: set[str]) -> list[str]:
    tuned = [it for it in inp.tuned if it.protocol == "self"]
    counts = {k: 0 for k in CLIP_KINDS}
    for it in tuned:
        counts[inp.clips[it.driver].kind] += 1
    out = []
    for src in _sources(inp):
        n_tuned = sum(source_of(inp.manifest[it.driver]["origin"]) == src for it in tuned)
        left = [f for f, r in inp.manifest.items() if f.startswith("videos/") and source_of(r["origin"]) == src
                and eligible_self(inp.clips[f]) and f not in used]
        for _ in range(max(1, SELF_PER_SOURCE - n_tuned)):
            if not left:
                break
            f = min(left, key=lambda f: (counts[inp.clips[f].kind], key(f)))
            left.remove(f)
            counts[inp.clips[f].kind] += 1
            out.append(f)
    return out


def _assign_halves(items: list[EvalItem], tuned: set[str], strata) -> list[EvalItem]:
    """Rule step 5; ``strata(item) -> (source, kinds)``."""
    n = {h: {} for h in HALVES}
    total = {h: 0 for h in HALVES}
    half_of: dict[str, str] = {}

    def add(it: EvalItem, h: str) -> None:
        src, kinds = strata(it)
        for s in (("src", src),) + tuple(("kind", k) for k in kinds):
            n[h][s] = n[h].get(s, 0) + 1
        total[h] += 1
        half_of[it.name] = h

    for it in items:
        if it.name in tuned:
            add(it, "dev")
    for it in sorted((it for it in items if it.name not in tuned), key=lambda it: key("half:" + it.name)):
        src, kinds = strata(it)

        def cost(h: str) -> tuple[int, int, int, int]:
            return (n[h].get(("src", src), 0), sum(n[h].get(("kind", k), 0) for k in kinds), total[h], 0 if h == "check" else 1)

        add(it, min(HALVES, key=cost))
    return [EvalItem(it.protocol, it.name, it.portrait, it.driver, it.why, half_of[it.name]) for it in items]


def build_sets(
    manifest: dict[str, dict[str, str]],
    portraits: dict[str, PortraitLabel],
    clips: dict[str, ClipLabel],
    tuned: list[EvalItem],
) -> list[EvalItem]:
    """Apply the rule (module docstring): self items then cross items, tuned ones first in each.

    Args:
        manifest: :func:`reenactor.eval.sets.read_manifest` of the data dir.
        portraits, clips: :func:`reenactor.eval.labels.read_portrait_labels` / ``read_clip_labels``.
        tuned: :func:`load_tuned`.

    Raises:
        InputError: a manifest file without a label (or a label without a file),
            a tuned item whose files are missing, no portrait for a driver.
    """
    inp = _Inputs(manifest, portraits, clips, tuned)
    _check_labels(inp)
    for it in tuned:
        for f in (it.portrait, it.driver):
            if f is not None and f not in manifest:
                raise InputError(f"tuned item {it.name}: {f} is not in MANIFEST.tsv")
    used = {f for it in tuned for f in (it.portrait, it.driver) if f}
    names = {it.name for it in tuned}
    self_items = [it for it in tuned if it.protocol == "self"]
    for f in _draw_self(inp, used):
        self_items.append(EvalItem("self", short(f), None, f, _clip_why(inp, f), "dev"))
    cross_items = [it for it in tuned if it.protocol == "cross"]
    for p, d in _draw_cross(inp, used):
        lab = portraits[p]
        why = f"{','.join(lab.kinds)} portrait (face {lab.face_frac:.2f} of the picture) <- {_clip_why(inp, d)}"
        cross_items.append(EvalItem("cross", f"{short(p)}__{short(d)}", p, d, why, "dev"))
    items = self_items + cross_items
    dupes = sorted({it.name for it in items if sum(j.name == it.name for j in items) > 1})
    if dupes:
        raise InputError(f"the rule drew duplicate names: {dupes}")

    def strata(it: EvalItem) -> tuple[str, tuple[str, ...]]:
        src = source_of(manifest[it.driver]["origin"])
        if it.protocol == "self":
            return f"self:{src}", (f"self:{clips[it.driver].kind}",)
        return f"cross:{src}", tuple(f"cross:{k}" for k in portraits[it.portrait].kinds if k in COVER_KINDS)

    return _assign_halves(items, names, strata)


SETS_HEADER = """\
# Evaluation sets of `reenactor eval`. GENERATED by scripts/make_eval_sets.py (the rule is in
# src/reenactor/eval/setrule.py and docs/benchmarks.md); do not edit by hand: edit the labels
# (portrait_kinds.tsv, driver_kinds.tsv) or tuned_items.tsv and rerun the script.
# Paths are relative to the data dir (see MANIFEST.tsv).
# self: the first frame of `driver` is the portrait; the rest of the clip is ground truth.
# cross: `portrait` is animated by `driver`; the two are always different people.
# half: dev = may be tuned on (includes the 18 items that chose the defaults); check = only looked
#       at to confirm a change made on dev.
# protocol\tname\tportrait\tdriver\thalf\twhy
"""


def render_sets(items: list[EvalItem]) -> str:
    """The text of ``sets.tsv`` for ``items`` (header comment, then one row per item)."""
    rows = [f"{it.protocol}\t{it.name}\t{it.portrait or '-'}\t{it.driver}\t{it.half}\t{it.why}" for it in items]
    return SETS_HEADER + "\n".join(rows) + "\n"


#: Report text describing this module's measurement.
SETS_NOTE = (
    "Sets and halves. `src/reenactor/eval/sets.tsv` is written by `scripts/make_eval_sets.py` with a fixed rule "
    "(`reenactor.eval.setrule`, seed 13; every draw takes the candidate with the smallest blake2b(\"13:\" + name) "
    "key, so nothing depends on a random generator) from MANIFEST.tsv, the committed labels (`portrait_kinds.tsv`: "
    "kinds judged by eye, small_face / greyscale / multi_face measured with dlib; `driver_kinds.tsv`: per clip the "
    "share of frames with a dlib face, face size and head translation) and `tuned_items.tsv`, the 8 self clips and "
    "10 cross pairs on which the defaults were chosen. Eligible: portraits that are not animals or other negatives, "
    "show one face, and have a face for dlib and for the pipeline; clips where dlib finds the face in >= 80 % of the "
    "sampled first 90 frames (self clips also in frame 0). Cross: per driver source (the manifest's origin "
    "repository) max(1, 3 - tuned pairs of the source) new pairs, drivers in key order with the tuned items' clips "
    "last; new portraits (never a tuned item's) drawn round-robin over the kinds greyscale, glasses, small_face, "
    "painting, digital, beard, teeth, photo (always the kind with the fewest so far), paired with the drivers in key "
    "order, never the same identity. Self: per source max(1, 2 - tuned clips) new clips, the rarest clip kind so far "
    "(crop, translation, uncropped) first. Halves: the tuned items are dev; every other item, in key order, goes to "
    "the half with fewer items of its driver source, then of its kinds (portrait kinds for cross, clip kind for "
    "self), then fewer items, then check. dev may be tuned on; check is only looked at to confirm a change made on "
    "dev. `reenactor eval --half dev|check|all` runs one half. Limits of the data: the only greyscale portrait "
    "belongs to a tuned item, so the check half has none; a source with a single clip has its self item in one "
    "half only."
)
