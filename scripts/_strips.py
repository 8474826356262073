"""Shared by the docs strip scripts (run as ``python scripts/NAME.py``)."""

from __future__ import annotations

import cv2
import numpy as np


def label(tile: np.ndarray, text: str, org: tuple[int, int] = (6, 18), scale: float = 0.5) -> np.ndarray:
    """A copy of ``tile`` (HxWx3 uint8 RGB) with ``text`` in white, outlined in black, at pixel ``org``."""
    out = tile.copy()
    for colour, width in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, width, cv2.LINE_AA)
    return out


def render_row(engine, portrait: np.ndarray, track, picks, crop, text: str, org: tuple[int, int], scale: float) -> np.ndarray:
    """One strip row: ``portrait`` driven by ``track`` at frames ``picks``, each tile cut by ``crop``.

    Args:
        engine: a :class:`reenactor.api.Reenactor` (the portrait is prepared with
            its config, so render settings take effect).
        portrait: HxWx3 uint8 RGB.
        track: the driver's :class:`reenactor.api.DriverTrack`.
        picks: driver frame indices, left to right.
        crop: ``crop(rendered_crop, target_landmarks) -> tile``.
        text, org, scale: the label of every tile (see :func:`label`).
    """
    prepared = engine.prepare(portrait)
    retarget = engine.retargeter(prepared, track)
    tiles = []
    for t in picks:
        target = retarget(track.landmarks[t])
        out = engine.render(prepared, target, track.mouths[t], crop_output=True)
        tiles.append(label(crop(out, target), text, org, scale))
    return np.hstack(tiles)
