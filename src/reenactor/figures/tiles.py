"""Shared pieces of the docs figures: labelled tiles, rows of renders, data and output.

Conventions: images are ``HxWx3`` ``uint8`` RGB arrays (0..255); landmarks are
``(478, 3)`` mediapipe points in pixel xy (z ignored); a *tile* is one cell of
a figure and rows of tiles are stacked with :func:`numpy.hstack` /
:func:`numpy.vstack`.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from reenactor.errors import InputError, OutputError

WHITE = 255


def label(tile: np.ndarray, text: str, org: tuple[int, int] = (6, 18), scale: float = 0.5) -> np.ndarray:
    """A copy of ``tile`` (HxWx3 uint8 RGB) with ``text`` in white, outlined in black, at pixel ``org``.

    ``org`` is the (x, y) of the text's baseline start, ``scale`` OpenCV's font scale.
    """
    out = tile.copy()
    for colour, width in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, width, cv2.LINE_AA)
    return out


def heading(text: str, width: int, height: int = 24, scale: float = 0.5) -> np.ndarray:
    """A ``(height, width, 3)`` uint8 white band with ``text`` in black (a row title)."""
    band = blank(height, width)
    cv2.putText(band, text, (6, height - 7), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return band


def blank(height: int, width: int) -> np.ndarray:
    """A white ``(height, width, 3)`` uint8 tile."""
    return np.full((height, width, 3), WHITE, np.uint8)


def fit_tile(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` (HxWx3 uint8) scaled (area-averaged) to fit a white ``side x side`` tile, centred."""
    h, w = image.shape[:2]
    s = side / max(h, w)
    small = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    out = blank(side, side)
    y, x = (side - small.shape[0]) // 2, (side - small.shape[1]) // 2
    out[y : y + small.shape[0], x : x + small.shape[1]] = small
    return out


def stack_rows(rows: Sequence[np.ndarray], gap: int = 0) -> np.ndarray:
    """Rows of equal width (each HxWx3 uint8) stacked top to bottom, ``gap`` white pixels between them.

    Raises:
        ValueError: no rows, or rows of different widths.
    """
    if not rows:
        raise ValueError("stack_rows needs at least one row")
    widths = {r.shape[1] for r in rows}
    if len(widths) != 1:
        raise ValueError(f"rows of different widths: {sorted(widths)}")
    parts: list[np.ndarray] = []
    for k, row in enumerate(rows):
        if k and gap:
            parts.append(blank(gap, row.shape[1]))
        parts.append(row)
    return np.vstack(parts)


def mouth_crop(
    image: np.ndarray,
    landmarks: np.ndarray,
    size: tuple[int, int],
    centre_loop: Sequence[int],
    interpolation: int = cv2.INTER_AREA,
) -> np.ndarray:
    """A ``size`` = (width, height) crop of ``image`` around the mouth, 2.2 mouth widths wide.

    Args:
        image: HxWx3 uint8 RGB.
        landmarks: (478, 2+) points in ``image`` pixels.
        centre_loop: landmark indices whose mean is the crop's centre (a lip loop).
        interpolation: OpenCV interpolation flag of the affine warp.

    Returns:
        ``(height, width, 3)`` uint8 RGB; outside the image the edge is repeated.
    """
    from reenactor.face import topology as T

    m = mouth_tile_affine(landmarks, size, centre_loop, T.MOUTH_CORNERS)
    return cv2.warpAffine(image, m, size, flags=interpolation, borderMode=cv2.BORDER_REPLICATE)


def mouth_tile_affine(landmarks: np.ndarray, size: tuple[int, int], centre_loop: Sequence[int], corners: tuple[int, int]) -> np.ndarray:
    """The (2, 3) image -> tile transform of :func:`mouth_crop`: the mean of ``centre_loop`` at the
    centre of a ``size`` = (width, height) tile that is 2.2 mouth widths (``corners``, two landmark
    indices) wide. ``landmarks``: (N, 2+) points in image pixels, of any topology."""
    lm = landmarks[:, :2].astype(np.float64)
    width, height = size
    centre = lm[list(centre_loop)].mean(0)
    mouth_w = np.linalg.norm(lm[corners[1]] - lm[corners[0]])
    s = width / (2.2 * max(mouth_w, 1.0))
    return np.array([[s, 0.0, width / 2 - s * centre[0]], [0.0, s, height / 2 - s * centre[1]]])


def spaced_peaks(score: np.ndarray, count: int, min_gap: int = 5, skip: int | None = None) -> list[int]:
    """Indices of the ``count`` highest ``score`` values at least ``min_gap`` apart, highest first.

    Args:
        score: (N,) float scores; a non-finite score ends the search.
        count: how many indices at most.
        min_gap: least distance between two picked indices.
        skip: an index never picked (e.g. the reference frame).
    """
    picks: list[int] = []
    for t in np.argsort(-score):
        if len(picks) == count or not np.isfinite(score[t]):
            break
        if int(t) != skip and all(abs(int(t) - p) >= min_gap for p in picks):
            picks.append(int(t))
    return picks


def config_with(**sections: dict):
    """The default :class:`~reenactor.config.ReenactorConfig` with fields changed per section.

    Example: ``config_with(render={"mouth": "learned"})``.
    """
    from reenactor.config import ReenactorConfig

    cfg = ReenactorConfig()
    return replace(cfg, **{name: replace(getattr(cfg, name), **fields) for name, fields in sections.items()})


def render_row(
    engine,
    portrait: np.ndarray,
    track,
    picks: Sequence[int],
    crop: Callable[[np.ndarray, np.ndarray], np.ndarray],
    text: str,
    org: tuple[int, int],
    scale: float,
) -> np.ndarray:
    """One row: ``portrait`` driven by ``track`` at frames ``picks``, each tile cut by ``crop`` and labelled.

    Args:
        engine: a :class:`reenactor.api.Reenactor` (the portrait is prepared with
            its config, so its settings take effect).
        portrait: HxWx3 uint8 RGB.
        track: the driver's :class:`reenactor.api.DriverTrack`.
        picks: driver frame indices, left to right.
        crop: ``crop(rendered_face_crop, target_landmarks) -> tile`` (HxWx3 uint8).
        text, org, scale: the label of every tile (see :func:`label`).

    Returns:
        The tiles side by side, HxWx3 uint8.
    """
    prepared = engine.prepare(portrait)
    retarget = engine.retargeter(prepared, track)
    tiles = []
    for t in picks:
        target = retarget(track.landmarks[t])
        out = engine.render(prepared, target, track.mouths[t], crop_output=True)
        tiles.append(label(crop(out, target), text, org, scale))
    return np.hstack(tiles)


def read_clip(data: Path, rel: str, max_frames: int) -> tuple[list[np.ndarray], float]:
    """The first ``max_frames`` frames (HxWx3 uint8 RGB) of ``data/rel`` and its frame rate."""
    from reenactor.io.video import iter_frames, probe_video

    path = data / rel
    return list(iter_frames(path, max_frames)), probe_video(path).fps


def read_portrait(data: Path, rel: str) -> np.ndarray:
    """The portrait ``data/rel`` as HxWx3 uint8 RGB."""
    from reenactor.io.image import read_image

    return read_image(data / rel, what="portrait")


def find_data(given: Path | None = None) -> Path | None:
    """The real-data folder: ``given``, else :func:`reenactor.bench.find_shared_data` (None: absent).

    Raises:
        InputError: ``given`` has no MANIFEST.tsv.
    """
    if given is None:
        from reenactor.bench import find_shared_data

        return find_shared_data()
    if not (given / "MANIFEST.tsv").is_file():
        raise InputError(f"no MANIFEST.tsv in the data folder {str(given)!r}")
    return given


def encode(image: np.ndarray | bytes, suffix: str, quality: int = 95) -> bytes:
    """``image`` (HxWx3 uint8 RGB) encoded by Pillow as JPEG (``quality``) or PNG; bytes pass through.

    Raises:
        ValueError: not an HxWx3 uint8 array, or a suffix other than .jpg/.png.
    """
    if isinstance(image, bytes):
        return image
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 RGB array, got {getattr(image, 'shape', type(image).__name__)}")
    from PIL import Image

    formats = {".jpg": ("JPEG", {"quality": quality}), ".png": ("PNG", {})}
    if suffix not in formats:
        raise ValueError(f"figures are .jpg or .png, not {suffix!r}")
    fmt, options = formats[suffix]
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format=fmt, **options)
    return buf.getvalue()


def write_picture(path: Path, image: np.ndarray | bytes, quality: int = 95) -> Path:
    """Write ``image`` (HxWx3 uint8 RGB, or encoded bytes) to ``path`` atomically; returns ``path``.

    The bytes go to a temporary file beside ``path`` that is renamed onto it
    when complete (:func:`reenactor.io.atomic.atomic_output`); parent folders
    are created.

    Raises:
        OutputError: the folder or the file cannot be written.
    """
    from reenactor.io.atomic import atomic_output

    data = encode(image, path.suffix.lower(), quality)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            tmp.write_bytes(data)
    except OSError as exc:
        raise OutputError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    return path
