"""Bookkeeping of a rendering job around the frame loop: per-stage timing
(:class:`StageTimer`), the terminal progress bar (:func:`progress_bar`), the
size of the video written for a portrait (:func:`even_size`, :func:`video_size`),
and the whole-picture resizing at its ends (:func:`fitted_inputs`: a portrait
brought to the video's size once; :func:`fit_frame`, :func:`finish_frame`: a
frame as a sink writes it). The compositor (:mod:`reenactor.render`) does the
per-frame drawing.

:mod:`reenactor.api` re-exports these names; :mod:`reenactor.pipeline` uses them.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from reenactor.api import PreparedPortrait, Reenactor

__all__ = ["StageTimer", "progress_bar", "even_size", "video_size", "fit_frame", "finish_frame", "fitted_inputs"]


class StageTimer:
    """Accumulates wall-clock milliseconds per named stage."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.count: dict[str, int] = defaultdict(int)
        #: ``time.perf_counter()`` when the first output frame was written, or None.
        self.first_frame: float | None = None

    def add(self, stage: str, seconds: float) -> None:
        self.total[stage] += seconds * 1000.0
        self.count[stage] += 1

    def encoded(self, seconds: float) -> None:
        """One frame written (called on the encoding thread): its time, and the first frame's moment."""
        self.add("encode", seconds)
        if self.first_frame is None:
            self.first_frame = time.perf_counter()

    def per_frame(self, frames: int) -> dict[str, float]:
        """Mean milliseconds per output frame for each stage."""
        return {k: round(v / max(frames, 1), 3) for k, v in self.total.items()}


def even_size(height: int, width: int) -> tuple[int, int]:
    """(height, width) rounded down to even numbers (H.264 yuv420p needs it)."""
    return height - height % 2, width - width % 2


def video_size(reenactor: Reenactor, portrait: PreparedPortrait, crop_output: bool) -> tuple[int, int]:
    """(width, height) of the video written for ``portrait``: even, and within
    ``OutputConfig.max_size`` and the 4K UHD frame (:func:`reenactor.io.video.fit_video_size`)."""
    from reenactor.io.video_write import fit_video_size

    w, h = (reenactor.config.render.work_size,) * 2 if crop_output else portrait.size
    return fit_video_size(w, h, reenactor.config.output.max_size)


def progress_bar(total: int | None, desc: str, enabled: bool):
    """A tqdm bar on stderr (frames, fps, time left), or a no-op."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="frame", file=sys.stderr, disable=not enabled, dynamic_ncols=True, leave=False)


def finish_frame(frame: np.ndarray, output_cfg) -> np.ndarray:
    """The frame as written: with the visible label when ``output_cfg.watermark`` is set."""
    if not output_cfg.watermark:
        return frame
    from reenactor.render.watermark import watermark

    return watermark(frame)


def fit_frame(frame: np.ndarray, w: int, h: int) -> np.ndarray:
    """``frame`` at (w, h): its top-left when it is at most a pixel larger (odd sizes), else resized."""
    fh, fw = frame.shape[:2]
    if fw - w <= 1 and fh - h <= 1:
        return np.ascontiguousarray(frame[:h, :w])
    return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)


def fitted_inputs(image: np.ndarray, landmarks: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A portrait picture (HxWx3 uint8) area-averaged to ``size`` (width, height), and its
    (N, 3) image-pixel landmarks moved with it (pixel centres kept; z scaled by the mean factor)."""
    h, w = image.shape[:2]
    fx, fy = size[0] / w, size[1] / h
    lm = np.array(landmarks, dtype=np.float64)
    lm[:, 0] = (lm[:, 0] + 0.5) * fx - 0.5
    lm[:, 1] = (lm[:, 1] + 0.5) * fy - 0.5
    lm[:, 2:] *= 0.5 * (fx + fy)
    return cv2.resize(image, tuple(size), interpolation=cv2.INTER_AREA), lm
