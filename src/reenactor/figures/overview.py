"""The README's opening pictures: real drivers on three portraits, and the built-in demo motion.

Each function returns the figure as an ``HxWx3`` ``uint8`` RGB array.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reenactor.figures.tiles import blank, fit_tile, label, read_clip, read_portrait

#: (portrait, driver, frames read) of docs/strip.jpg, top to bottom.
STRIP_PAIRS = (
    ("portraits/EAMM__scarlett.jpg", "videos/LivePortrait__d3.mp4", 120),
    ("portraits/EAMM__mona.png", "videos/SadTalker__WDA_KatieHill_000.mp4", 120),
    ("portraits/deepface__img1.jpg", "videos/LivePortrait__d6.mp4", 150),
)
TILE = 192
#: Driver frames per row of docs/strip.jpg (docs/demo_strip.jpg shows one more).
COLUMNS = 6


def strip(data: Path) -> np.ndarray:
    """docs/strip.jpg: per pair a row of driver frames, then the portrait and its renders at those frames.

    Frames are the whole portrait (``iter_render``, not the face crop) at
    ``COLUMNS`` evenly spaced driver frames, each fitted into a ``TILE`` square.

    Returns:
        ``(2 * TILE * len(STRIP_PAIRS), TILE * (COLUMNS + 1), 3)`` uint8 RGB.
    """
    from reenactor.api import Reenactor

    r = Reenactor()
    rows = []
    for portrait_rel, driver_rel, n in STRIP_PAIRS:
        portrait = r.prepare(read_portrait(data, portrait_rel))
        frames, fps = read_clip(data, driver_rel, n)
        track = r.track(frames, fps)
        idx = [int(i) for i in np.linspace(0, len(frames) - 1, COLUMNS).round()]
        outs = {i: fit_tile(out, TILE) for i, out in enumerate(r.iter_render(portrait, track)) if i in idx}
        rows.append(np.hstack([label(blank(TILE, TILE), "driver")] + [label(fit_tile(frames[i], TILE), f"#{i}") for i in idx]))
        rows.append(np.hstack([label(fit_tile(portrait.image, TILE), "source")] + [outs[i] for i in idx]))
    return np.vstack(rows)


def demo_strip(data: Path | None = None, tile: int = TILE, columns: int = COLUMNS + 1) -> np.ndarray:
    """docs/demo_strip.jpg: the built-in ``demo`` motion on the astronaut (what ``reenactor demo`` writes).

    ``columns`` face crops at evenly spaced frames of the motion (10 frames in
    from either end), each fitted into a ``tile`` square and labelled with its
    frame number. ``data`` is not used.

    Returns:
        ``(tile, tile * columns, 3)`` uint8 RGB.
    """
    from skimage import data as skdata

    from reenactor.api import Reenactor
    from reenactor.motion.templates import template

    r = Reenactor()
    portrait = r.prepare(skdata.astronaut())
    params = template("demo")
    idx = np.linspace(10, len(params) - 10, columns).round().astype(int)
    outs = r.animate_params(portrait, [params[i] for i in idx], crop_output=True)
    return np.hstack([label(fit_tile(o, tile), f"#{i}") for o, i in zip(outs, idx)])
