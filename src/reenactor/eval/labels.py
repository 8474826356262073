"""Committed labels of the data set's portraits and clips, the input of the set rule.

Two tab-separated files next to this module, one row per manifest file:

* ``portrait_kinds.tsv``: ``file, kinds, face_frac, chroma, dlib_faces,
  pipeline_faces, exclude, note``. ``kinds`` is a comma-separated subset of
  :data:`KINDS`. The *judged* tags (:data:`JUDGED_KINDS`: photo, painting,
  digital, beard, teeth, glasses, negative) were set by looking at the
  pictures; the *measured* tags (:data:`MEASURED_KINDS`) follow from the
  numeric columns (:func:`measured_kinds`):

  - ``small_face``: ``face_frac`` < :data:`SMALL_FACE_FRAC`, where
    ``face_frac`` is the larger side of dlib's 68-point box over the
    picture's larger side (0..1);
  - ``greyscale``: ``chroma`` < :data:`GREY_CHROMA`, the mean over pixels of
    ``|R-G| + |G-B|`` (0..510 grey levels);
  - ``multi_face``: dlib (one 2x upsampling) or the pipeline's detector
    finds more than one face.

  ``exclude`` is ``-`` or a reason why the portrait is never drawn.
* ``driver_kinds.tsv``: ``file, kind, found, face_frac, shift_iod,
  frame0_dlib, frame0_pipeline``, measured on the first
  :data:`CLIP_FRAMES` frames (the eval's default ``--max-frames``), every
  :data:`CLIP_STRIDE`-th frame: ``found`` share of those frames where dlib
  finds a face (0..1); ``face_frac`` median landmark-box side over the
  frame's larger side; ``shift_iod`` the range of the landmark centroid over
  the clip (diagonal of its x/y range) in median inter-ocular distances;
  ``frame0_dlib`` / ``frame0_pipeline`` 1 when dlib / the pipeline find a
  face in frame 0 (the self protocol's portrait). ``kind``
  (:func:`clip_kind`): ``uncropped`` when ``face_frac`` <
  :data:`UNCROPPED_FRAC`, else ``translation`` when ``shift_iod`` >=
  :data:`TRANSLATION_IOD`, else ``crop``.

``python scripts/make_eval_sets.py --measure`` recomputes every numeric
column and measured tag (dlib and the pipeline), keeping the judged tags,
``exclude`` and ``note``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reenactor.errors import InputError

PORTRAIT_LABELS = Path(__file__).with_name("portrait_kinds.tsv")
DRIVER_LABELS = Path(__file__).with_name("driver_kinds.tsv")

JUDGED_KINDS = ("photo", "painting", "digital", "beard", "teeth", "glasses", "negative")
MEASURED_KINDS = ("small_face", "greyscale", "multi_face")
KINDS = JUDGED_KINDS + MEASURED_KINDS
#: Exactly one of these per portrait (``negative`` pictures may have none).
MEDIA = ("photo", "painting", "digital")
CLIP_KINDS = ("crop", "translation", "uncropped")

SMALL_FACE_FRAC = 0.2
GREY_CHROMA = 2.0
UNCROPPED_FRAC = 0.4
TRANSLATION_IOD = 0.5
CLIP_FRAMES = 90
CLIP_STRIDE = 3

_P_HEADER = ("file", "kinds", "face_frac", "chroma", "dlib_faces", "pipeline_faces", "exclude", "note")
_D_HEADER = ("file", "kind", "found", "face_frac", "shift_iod", "frame0_dlib", "frame0_pipeline")


@dataclass(frozen=True)
class PortraitLabel:
    """One row of ``portrait_kinds.tsv`` (see the module docstring for units)."""

    file: str
    kinds: tuple[str, ...]
    face_frac: float
    chroma: float
    dlib_faces: int
    pipeline_faces: int
    exclude: str = "-"
    note: str = ""


@dataclass(frozen=True)
class ClipLabel:
    """One row of ``driver_kinds.tsv`` (see the module docstring for units)."""

    file: str
    kind: str
    found: float
    face_frac: float
    shift_iod: float
    frame0_dlib: int
    frame0_pipeline: int


def measured_kinds(face_frac: float, chroma: float, dlib_faces: int, pipeline_faces: int) -> tuple[str, ...]:
    """The measured tags (subset of :data:`MEASURED_KINDS`) of a portrait's numbers."""
    out = []
    if np.isfinite(face_frac) and face_frac < SMALL_FACE_FRAC:
        out.append("small_face")
    if chroma < GREY_CHROMA:
        out.append("greyscale")
    if max(dlib_faces, pipeline_faces) > 1:
        out.append("multi_face")
    return tuple(out)


def clip_kind(face_frac: float, shift_iod: float) -> str:
    """``uncropped``, ``translation`` or ``crop`` (see the module docstring)."""
    if face_frac < UNCROPPED_FRAC:
        return "uncropped"
    if shift_iod >= TRANSLATION_IOD:
        return "translation"
    return "crop"


def _rows(path: Path, header: tuple[str, ...]) -> list[tuple[int, list[str]]]:
    if not path.is_file():
        raise InputError(f"label file not found: {path}")
    out = []
    with path.open(newline="", encoding="utf-8") as fh:
        for lineno, row in enumerate(csv.reader(fh, delimiter="\t"), start=1):
            if not row or row[0].startswith("#"):
                continue
            if tuple(row) == header:
                continue
            if len(row) != len(header):
                raise InputError(f"{path}:{lineno}: expected {len(header)} tab-separated fields, got {len(row)}")
            out.append((lineno, [c.strip() for c in row]))
    return out


def read_portrait_labels(path: str | Path = PORTRAIT_LABELS, strict: bool = True) -> dict[str, PortraitLabel]:
    """``{file: PortraitLabel}`` from ``portrait_kinds.tsv``.

    ``strict=False`` skips the consistency checks of the measured tags (for
    ``--measure``, which recomputes them).

    Raises:
        InputError: missing file, malformed rows, unknown tags, a measured tag
            that disagrees with its numbers, not exactly one medium on a
            non-negative portrait, duplicate files.
    """
    p = Path(path)
    out: dict[str, PortraitLabel] = {}
    for lineno, r in _rows(p, _P_HEADER):
        kinds = tuple(k for k in r[1].split(",") if k)
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise InputError(f"{p}:{lineno}: unknown kind(s) {unknown} (choose from {', '.join(KINDS)})")
        try:
            lab = PortraitLabel(r[0], kinds, float(r[2]), float(r[3]), int(r[4]), int(r[5]), r[6] or "-", r[7])
        except ValueError as exc:
            raise InputError(f"{p}:{lineno}: bad number: {exc}") from exc
        want = measured_kinds(lab.face_frac, lab.chroma, lab.dlib_faces, lab.pipeline_faces)
        have = tuple(k for k in kinds if k in MEASURED_KINDS)
        if strict and set(want) != set(have):
            raise InputError(f"{p}:{lineno}: measured kinds {have} disagree with the numbers (expected {want})")
        media = [k for k in kinds if k in MEDIA]
        if "negative" not in kinds and len(media) != 1:
            raise InputError(f"{p}:{lineno}: {lab.file} needs exactly one of {', '.join(MEDIA)}, got {media}")
        if lab.file in out:
            raise InputError(f"{p}:{lineno}: duplicate file {lab.file}")
        out[lab.file] = lab
    return out


def read_clip_labels(path: str | Path = DRIVER_LABELS) -> dict[str, ClipLabel]:
    """``{file: ClipLabel}`` from ``driver_kinds.tsv``.

    Raises:
        InputError: missing file, malformed rows, a kind that disagrees with its numbers, duplicates.
    """
    p = Path(path)
    out: dict[str, ClipLabel] = {}
    for lineno, r in _rows(p, _D_HEADER):
        try:
            lab = ClipLabel(r[0], r[1], float(r[2]), float(r[3]), float(r[4]), int(r[5]), int(r[6]))
        except ValueError as exc:
            raise InputError(f"{p}:{lineno}: bad number: {exc}") from exc
        if lab.kind != clip_kind(lab.face_frac, lab.shift_iod):
            raise InputError(f"{p}:{lineno}: kind {lab.kind!r} disagrees with the numbers (expected {clip_kind(lab.face_frac, lab.shift_iod)!r})")
        if lab.file in out:
            raise InputError(f"{p}:{lineno}: duplicate file {lab.file}")
        out[lab.file] = lab
    return out


def write_portrait_labels(labels: dict[str, PortraitLabel], path: str | Path = PORTRAIT_LABELS) -> None:
    """Write ``portrait_kinds.tsv`` sorted by file (kinds in :data:`KINDS` order)."""
    lines = [
        "# Portrait kinds for the evaluation set rule (reenactor.eval.labels; scripts/make_eval_sets.py).",
        "# Judged by eye: photo painting digital beard teeth glasses negative. Measured (--measure): small_face greyscale multi_face.",
        "\t".join(_P_HEADER),
    ]
    for f in sorted(labels):
        lab = labels[f]
        kinds = ",".join(k for k in KINDS if k in lab.kinds)
        lines.append(
            f"{f}\t{kinds}\t{lab.face_frac:.3f}\t{lab.chroma:.1f}\t{lab.dlib_faces}\t{lab.pipeline_faces}\t{lab.exclude or '-'}\t{lab.note}"
        )
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_clip_labels(labels: dict[str, ClipLabel], path: str | Path = DRIVER_LABELS) -> None:
    """Write ``driver_kinds.tsv`` sorted by file."""
    lines = [
        f"# Clip measurements for the evaluation set rule (reenactor.eval.labels), first {CLIP_FRAMES} frames with a stride of {CLIP_STRIDE}, dlib.",
        "\t".join(_D_HEADER),
    ]
    for f in sorted(labels):
        c = labels[f]
        lines.append(f"{f}\t{c.kind}\t{c.found:.3f}\t{c.face_frac:.3f}\t{c.shift_iod:.3f}\t{c.frame0_dlib}\t{c.frame0_pipeline}")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


# ------------------------------------------------------------------ measuring
def _face_frac(lm: np.ndarray, size: tuple[int, int]) -> float:
    return float(max(np.ptp(lm[:, 0]), np.ptp(lm[:, 1])) / max(size))


def _pipeline_faces(reenactor, image: np.ndarray) -> int:
    from reenactor.errors import NoFaceError  # noqa: PLC0415

    try:
        return int(reenactor.prepare(image).faces)
    except NoFaceError:
        return 0


def measure_portrait(image: np.ndarray, face, reenactor, file: str, old: PortraitLabel | None) -> PortraitLabel:
    """Measure one portrait (``HxWx3`` ``uint8`` RGB); judged tags, exclude and note come from ``old``.

    Args:
        face: a :class:`reenactor.eval.dlibface.DlibFace`.
        reenactor: a :class:`reenactor.api.Reenactor` (its portrait face detector).
    """
    h, w = image.shape[:2]
    f = image.astype(np.int16)
    chroma = float(np.mean(np.abs(f[..., 0] - f[..., 1]) + np.abs(f[..., 1] - f[..., 2])))
    m = face.measure(image, descriptor=False)
    frac = _face_frac(m.landmarks, (w, h)) if m.found else float("nan")
    n_dlib = face.count_faces(image)
    n_pipe = _pipeline_faces(reenactor, image)
    judged = tuple(k for k in (old.kinds if old else ()) if k in JUDGED_KINDS)
    kinds = judged + measured_kinds(frac, chroma, n_dlib, n_pipe)
    return PortraitLabel(file, kinds, frac, chroma, n_dlib, n_pipe, old.exclude if old else "-", old.note if old else "")


def measure_clip(frames: list[np.ndarray], face, reenactor, file: str) -> ClipLabel:
    """Measure one clip from its first frames (``HxWx3`` ``uint8`` RGB, at most :data:`CLIP_FRAMES`)."""
    from reenactor.eval import metrics as M  # noqa: PLC0415

    frames = frames[:CLIP_FRAMES]
    h, w = frames[0].shape[:2]
    meas = [face.measure(frames[t], descriptor=False) for t in range(0, len(frames), CLIP_STRIDE)]
    found = [m for m in meas if m.found]
    if found:
        fracs = [_face_frac(m.landmarks, (w, h)) for m in found]
        cents = np.array([m.landmarks.mean(axis=0) for m in found])
        iod = float(np.median([M.inter_ocular(m.landmarks) for m in found]))
        frac = float(np.median(fracs))
        shift = float(np.linalg.norm(np.ptp(cents, axis=0)) / max(iod, 1e-6))
    else:
        frac, shift = 0.0, 0.0
    f0 = int(meas[0].found)
    p0 = int(_pipeline_faces(reenactor, frames[0]) > 0)
    return ClipLabel(file, clip_kind(frac, shift), len(found) / len(meas), frac, shift, f0, p0)

