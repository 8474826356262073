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
