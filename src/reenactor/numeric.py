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


def corner_arc(a: np.ndarray, b: np.ndarray, points: np.ndarray, at: np.ndarray | None = None, corner_weight: float = 10.0) -> np.ndarray:
    """Points on a parabola from corner ``a`` to corner ``b`` fitted to ``points``.

    In the frame of the segment ``a -> b`` (``u`` 0..1 along it, ``v`` pixels
    across it) a parabola ``v(u)`` is fitted by weighted least squares to
    ``a``, ``points`` and ``b``, the two corners weighted ``corner_weight``
    (the curve passes close to them): the smooth margin of an eyelid.

    Args:
        a, b: (2,) corner pixels xy.
        points: (K, 2) pixels xy between them.
        at: parameters ``u`` to return points for; None: each of ``points``'
            own ``u`` (its projection onto the arc across the segment).

    Returns:
        (len(at) or K, 2) float64 pixels xy; ``points`` unchanged when the
        corners coincide.
    """
    a = np.asarray(a, dtype=np.float64)
    span = float(np.linalg.norm(np.asarray(b, dtype=np.float64) - a))
    pts = np.asarray(points, dtype=np.float64)
    if span < 1e-6:
        return pts.copy()
    ax = (np.asarray(b, dtype=np.float64) - a) / span
    nrm = np.array([-ax[1], ax[0]])
    allp = np.vstack([a[None], pts, np.asarray(b, dtype=np.float64)[None]])
    u = (allp - a) @ ax / span
    v = (allp - a) @ nrm
    wts = np.ones(len(allp))
    wts[[0, -1]] = corner_weight
    coef = np.polyfit(u, v, 2, w=wts)
    uu = u[1:-1] if at is None else np.asarray(at, dtype=np.float64)
    return a + np.outer(uu * span, ax) + np.outer(np.polyval(coef, uu), nrm)
