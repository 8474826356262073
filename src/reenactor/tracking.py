"""The driver stage: landmarks of a whole driving video, filled, smoothed, with its reference frame.

:func:`track_driver` detects the face in every frame (tracking, see
:mod:`reenactor.face.landmarks`), keeps each frame's mouth patch, holds the
last pose over frames without a face and blends back (:func:`fill_lost`),
smooths the track forwards and backwards (:func:`reenactor.face.smooth.smooth_track`,
in inter-ocular units), and picks the motion reference (:func:`pick_reference`).
Landmarks are (478, 3) driver pixels, float32.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from reenactor.config import ReenactorConfig
from reenactor.errors import InputError, NoFaceError
from reenactor.face.landmarks import LandmarkDetector
from reenactor.face.smooth import smooth_track
from reenactor.face.topology import inter_ocular
from reenactor.motion.reference import ReferenceChoice, match_reference
from reenactor.motion.retarget import choose_reference
from reenactor.render.mouth import MouthPatch, extract_mouth_patch


@dataclass
class DriverTrack:
    """Landmarks of a whole driving video.

    Attributes:
        landmarks: (F, 478, 3) float32 smoothed landmarks, driver pixels; lost
            frames hold the last pose and blend back.
        found: (F,) bool, whether a face was detected in each frame.
        mouths: per-frame driver mouth patches (None where lost).
        fps: frame rate.
        reference: index of the reference frame.
        reference_distance: how far the reference frame's pose and
            expression are from the portrait's
            (:func:`reenactor.motion.reference.match_distance`; NaN when it
            was not chosen by matching).
        reference_rule: "match", "neutral" or "given".
        raw: (F, 478, 3) float32 landmarks as detected (NaN where lost), kept
            instead of ``mouths`` when the driver can be read again: the mouth
            patches (37 KB a frame) are then cut in the render pass, so a long
            driver does not hold them all.
    """

    landmarks: np.ndarray
    found: np.ndarray
    mouths: list
    fps: float
    reference: int
    reference_distance: float = float("nan")
    reference_rule: str = "given"
    raw: np.ndarray | None = None

    @property
    def lost(self) -> int:
        return int((~self.found).sum())


def fill_lost(raw: list[np.ndarray | None], blend_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Hold the last pose over frames without a face, then blend back.

    Args:
        raw: per frame (478, 3) landmarks or None.
        blend_frames: frames over which a re-found face eases in.

    Returns:
        ((F, 478, 3) float32 filled landmarks, (F,) bool found).

    Raises:
        NoFaceError: no frame has a face.
    """
    found = np.array([r is not None for r in raw], dtype=bool)
    if not found.any():
        raise NoFaceError("no face found in any frame of the driver")
    first = raw[int(np.argmax(found))]
    out = np.empty((len(raw), *first.shape), np.float32)
    current = first.astype(np.float32)  # frames before the first face take it
    remaining = 0  # blend steps left after a face comes back
    for i, r in enumerate(raw):
        if r is None:
            out[i] = current
            remaining = blend_frames if i >= np.argmax(found) else 0
            continue
        if remaining > 0:
            current = current + (r - current) / (remaining + 1)
            remaining -= 1
        else:
            current = r.astype(np.float32)
        out[i] = current
    return out, found


def detect_driver(frames: Iterable[np.ndarray], config: ReenactorConfig, progress: Callable[[int], None] | None = None,
                  timer=None, keep_mouths: bool = True) -> tuple[list, list, tuple[int, int]]:
    """Per frame: landmarks or None, the mouth patch or None (always None without
    ``keep_mouths``); and the frame size (width, height).

    ``timer`` (optional) gets the "decode" and "landmarks" stages.
    """
    raw: list[np.ndarray | None] = []
    mouths: list[MouthPatch | None] = []
    frame_size = (0, 0)
    with LandmarkDetector(static_image_mode=False, config=config.detection) as det:
        it = iter(frames)
        while True:
            t0 = time.perf_counter()
            frame = next(it, None)
            if frame is None:
                break
            t1 = time.perf_counter()
            lm = det.detect(frame)
            frame_size = (frame.shape[1], frame.shape[0])
            raw.append(lm)
            mouths.append(extract_mouth_patch(frame, lm) if lm is not None and keep_mouths else None)
            t2 = time.perf_counter()
            if timer is not None:
                timer.add("decode", t1 - t0)
                timer.add("landmarks", t2 - t1)
            if progress:
                progress(1)
    return raw, mouths, frame_size


def pick_reference(config: ReenactorConfig, landmarks: np.ndarray, found: np.ndarray, frame_size: tuple[int, int],
                   portrait=None, reference_frame: int | None = None) -> ReferenceChoice:
    """The driver's motion reference frame.

    ``reference_frame`` when given (else ``RetargetConfig.reference_frame``); else, with a portrait and
    ``RetargetConfig.reference == "match"``, the driver frame whose head
    pose and expression are closest to the portrait's own
    (:func:`reenactor.motion.reference.match_reference`); else the most
    neutral frontal frame.

    Args:
        landmarks: (F, 478, 3) driver landmarks; found: (F,) bool.
        frame_size: driver (width, height) in pixels.
        portrait: anything with ``landmarks`` (478, 3) and ``size`` (w, h), or None.

    Raises:
        InputError: reference_frame out of range or without a face.
    """
    if reference_frame is None:
        reference_frame = config.retarget.reference_frame
    if reference_frame is not None:
        if not 0 <= reference_frame < len(landmarks):
            raise InputError(f"--reference-frame {reference_frame} is outside the driver's {len(landmarks)} frames")
        if not found[reference_frame]:
            raise InputError(f"--reference-frame {reference_frame}: no face in that driver frame")
        return ReferenceChoice(int(reference_frame), float("nan"), "given")
    if portrait is not None and config.retarget.reference == "match":
        return match_reference(landmarks, found, frame_size, portrait.landmarks, portrait.size)
    return ReferenceChoice(choose_reference(landmarks, found), float("nan"), "neutral")


def track_driver(frames: Iterable[np.ndarray], fps: float, config: ReenactorConfig, reference_frame: int | None = None,
                 progress: Callable[[int], None] | None = None, timer=None, portrait=None,
                 keep_mouths: bool = True) -> DriverTrack:
    """Detect, fill and smooth the driver's landmarks over a whole video, and pick its reference.

    Args:
        keep_mouths: keep every frame's mouth patch (else keep the detected
            landmarks, :attr:`DriverTrack.raw`, to cut them again later).

    Raises:
        NoFaceError: no frame has a face.
        InputError: no frames; reference_frame out of range or without a face.
    """
    raw, mouths, frame_size = detect_driver(frames, config, progress, timer, keep_mouths)
    if not raw:
        raise InputError("the driver has no frames")
    filled, found = fill_lost(raw, config.smoothing.lost_blend_frames)
    iod = float(np.median([inter_ocular(filled[i]) for i in np.flatnonzero(found)]))
    smoothed = smooth_track(filled, fps, max(iod, 1.0), config.smoothing, config.smoothing.two_pass)
    ref = pick_reference(config, smoothed, found, frame_size, portrait, reference_frame)
    detected = None
    if not keep_mouths:
        detected = np.full((len(raw), *filled.shape[1:]), np.nan, np.float32)
        for i in np.flatnonzero(found):
            detected[i] = raw[i]
    return DriverTrack(smoothed, found, mouths, fps, ref.index, ref.distance, ref.rule, detected)
