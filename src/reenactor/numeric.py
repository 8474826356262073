"""Small numeric helpers shared by the motion and render stages."""

from __future__ import annotations

import numpy as np


def smoothstep(x, lo: float, hi: float):
    """Hermite ramp: 0 at or below ``lo``, 1 at or above ``hi``, smooth between.

    Args:
        x: a float or an array of any shape.
        lo, hi: ramp ends (``hi > lo``).

    Returns:
        Same shape as ``x``, in [0, 1]; a floating array keeps its dtype, anything
        else becomes float64.
    """
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    t = np.clip((arr - lo) / max(hi - lo, 1e-9), 0.0, 1.0)
    return t * t * (3 - 2 * t)
