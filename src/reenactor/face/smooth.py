"""Temporal smoothing of landmark tracks (One-Euro filter, Casiez et al. 2012)."""

from __future__ import annotations

import math
from typing import Collection, Iterable, Iterator, Sequence

import numpy as np

from reenactor.config import SmoothingConfig


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Vectorised One-Euro filter: adaptive low-pass, less lag when moving fast.

    Args:
        fps: sampling rate of the signal (frames per second).
        config: cutoffs and speed coefficient; ``min_cutoff`` and ``d_cutoff``
            in Hz, ``beta`` in 1/(signal units).
    """

    def __init__(self, fps: float, config: SmoothingConfig | None = None) -> None:
        if fps <= 0:
            raise ValueError("fps must be positive")
        self.cfg = config or SmoothingConfig()
        self.dt = 1.0 / fps
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    def reset(self) -> None:
        self._x = None
        self._dx = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Filter one sample (any shape, float); returns the smoothed sample."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None:
            self._x = x.copy()
            self._dx = np.zeros_like(x)
            return x.copy()
        dx = (x - self._x) / self.dt
        a_d = _alpha(self.cfg.d_cutoff, self.dt)
        self._dx = a_d * dx + (1 - a_d) * self._dx
        cutoff = self.cfg.min_cutoff + self.cfg.beta * np.abs(self._dx)
        a = _alpha(cutoff, self.dt)
        self._x = a * x + (1 - a) * self._x
        return self._x.copy()


def smooth_track(
    track: np.ndarray, fps: float, scale: float, config: SmoothingConfig | None = None, two_pass: bool = False,
    breaks: Sequence[int] = (),
) -> np.ndarray:
    """Smooth a landmark track.

    Args:
        track: (F, N, 3) landmarks in pixels.
        fps: frame rate of the track.
        scale: length used to normalise coordinates before filtering (e.g. the
            inter-ocular distance), so the filter's units are face sizes.
        config: filter parameters.
        two_pass: average a forward and a backward pass of the filter. The
            forward pass lags behind fast motion and the backward one runs
            ahead of it by about as much, so the mean smooths as much without
            the lag. Needs the whole track (not for live input).
        breaks: frames that start a new shot (:func:`reenactor.face.cuts.find_cuts`):
            each pass restarts its filter there, so nothing is smoothed
            across a cut.

    Returns:
        (F, N, 3) smoothed landmarks, same units and dtype as ``track``
        (:func:`smooth_frames` into arrays in memory).
    """
    out = np.empty(track.shape, track.dtype)
    smooth_frames(track, out, fps, scale, config, two_pass, np.empty(track.shape, np.float64) if two_pass else None, breaks)
    return out


def smooth_frames(track, out, fps: float, scale: float, config: SmoothingConfig | None = None, two_pass: bool = False,
                  scratch=None, breaks: Sequence[int] = ()) -> None:
    """:func:`smooth_track` frame by frame, for a track that need not be in memory.

    The forward pass streams through ``track`` (its filter state is one
    frame); with ``two_pass`` it goes to ``scratch``, then the backward pass
    streams through ``reversed(track)`` and writes the mean of the two, cast
    to ``out``'s dtype: the same arithmetic, in the same order, as
    ``0.5 * (forward + backward)`` over whole arrays.

    Args:
        track: F (N, 3) frames in pixels: ``len``, iteration and ``reversed``
            (an array, or a :class:`reenactor.framefile.FrameFile`).
        out: F (N, 3) frames written with ``out[i] = frame``, cast to its dtype.
        fps, scale, config, two_pass, breaks: as for :func:`smooth_track`.
        scratch: with ``two_pass``, F (N, 3) float64 frames written and read
            by index (the forward pass).
    """
    dtype = out.dtype
    n = len(track)
    starts = {int(b) for b in breaks if 0 < int(b) < n}
    forward = one_euro_pass(track, fps, scale, config, starts)
    if not two_pass:
        for i, x in enumerate(forward):
            out[i] = x.astype(dtype)
        return
    for i, x in enumerate(forward):
        scratch[i] = x
    backward = one_euro_pass(reversed(track), fps, scale, config, {n - b for b in starts})
    for i, back in zip(range(n - 1, -1, -1), backward):
        out[i] = (0.5 * (scratch[i] + back)).astype(dtype)


def one_euro_pass(frames: Iterable[np.ndarray], fps: float, scale: float, config: SmoothingConfig | None,
                  restarts: Collection[int] = ()) -> Iterator[np.ndarray]:
    """One causal One-Euro pass over (N, 3) frames in pixels, filtered in units of ``scale``;
    yields (N, 3) float64 frames in pixels. The filter restarts (its first
    output is the frame itself) at the positions in ``restarts``, counted in
    the order the frames come."""
    f = OneEuroFilter(fps, config)
    for i, x in enumerate(frames):
        if i in restarts:
            f.reset()
        yield f(x / scale) * scale
