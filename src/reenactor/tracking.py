"""The driver stage: landmarks of a whole driving video, filled, smoothed, with its reference frame.

:func:`track_driver` detects the face in every frame (tracking, see
:mod:`reenactor.face.landmarks`), keeps each frame's mouth patch, holds the
last pose over frames without a face and blends back (:func:`fill_frames`),
smooths the track forwards and backwards (:func:`reenactor.face.smooth.smooth_frames`,
in inter-ocular units, never across a shot cut: :mod:`reenactor.face.cuts`), and picks the motion reference (:func:`pick_reference`).
Landmarks are (478, 3) driver pixels, float32.

Memory stays flat in the driver's length: every per-frame array goes to a
temporary file (:class:`reenactor.framefile.TrackStore`) and each pass over
the track streams through it a frame (or a small chunk) at a time; what is
held per frame is a few bytes (found flag, inter-ocular distance, reference
measures). The arithmetic, and so every landmark, is the same as over whole
arrays in memory (:func:`fill_lost`, :func:`reenactor.face.smooth.smooth_track`).
"""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from reenactor.config import ReenactorConfig
from reenactor.errors import InputError, NoFaceError
from reenactor.face import cuts
from reenactor.face.landmarks import LandmarkDetector
from reenactor.face.smooth import smooth_frames
from reenactor.face.topology import inter_ocular
from reenactor.framefile import FrameFile, TrackStore
from reenactor.motion.reference import ReferenceChoice, match_reference
from reenactor.motion.retarget import choose_reference
from reenactor.render.mouth import MouthPatch, extract_mouth_patch


@dataclass
class DriverTrack:
    """Landmarks of a whole driving video.

    Attributes:
        landmarks: (F, 478, 3) float32 smoothed landmarks, driver pixels; lost
            frames hold the last pose and blend back. Read from a temporary
            file (:class:`reenactor.framefile.FrameFile`: ``len``,
            ``landmarks[i]``, iteration, ``np.asarray``) when tracked by
            :func:`track_driver`.
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
            driver does not hold them all. A file like ``landmarks``.
        store: the temporary files behind ``landmarks`` and ``raw`` (None when
            they are arrays); removed by :meth:`close` or when the track is
            garbage-collected.
        cuts: frames where the video cuts to another shot
            (:func:`reenactor.face.cuts.find_cuts`); the smoothing restarts there.
    """

    landmarks: np.ndarray | FrameFile
    found: np.ndarray
    mouths: list
    fps: float
    reference: int
    reference_distance: float = float("nan")
    reference_rule: str = "given"
    raw: np.ndarray | FrameFile | None = None
    store: TrackStore | None = field(default=None, repr=False, compare=False)
    cuts: tuple[int, ...] = ()

    @property
    def lost(self) -> int:
        return int((~self.found).sum())

    def close(self) -> None:
        """Remove the temporary files (``landmarks`` and ``raw`` can no longer be read)."""
        if self.store is not None:
            self.store.close()


def fill_frames(raw: Iterable[np.ndarray | None], first: np.ndarray, first_index: int,
                blend_frames: int) -> Iterator[np.ndarray]:
    """Hold the last pose over frames without a face, then blend back, frame by frame.

    Args:
        raw: per frame (478, 3) float32 landmarks or None.
        first: the first frame's with a face, taken by the frames before it.
        first_index: its index.
        blend_frames: frames over which a re-found face eases in.

    Yields:
        (478, 3) float32 filled landmarks per frame (the same array may come
        again for held frames: copy it to keep it).
    """
    current = first.astype(np.float32)
    remaining = 0  # blend steps left after a face comes back
    for i, r in enumerate(raw):
        if r is None:
            remaining = blend_frames if i >= first_index else 0
        elif remaining > 0:
            current = current + (r - current) / (remaining + 1)
            remaining -= 1
        else:
            current = r.astype(np.float32)
        yield current


def fill_lost(raw: list[np.ndarray | None], blend_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fill_frames` over a list in memory.

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
    k = int(np.argmax(found))
    out = np.empty((len(raw), *raw[k].shape), np.float32)
    for i, frame in enumerate(fill_frames(raw, raw[k], k, blend_frames)):
        out[i] = frame
    return out, found


def detect_driver(frames: Iterable[np.ndarray], config: ReenactorConfig, store: TrackStore,
                  progress: Callable[[int], None] | None = None, timer=None,
                  keep_mouths: bool = True) -> tuple[FrameFile | None, np.ndarray, list, tuple[int, int], list[int]]:
    """Detect the face in every frame, writing its landmarks to ``store``.

    Returns:
        (the "raw" file of (478, 3) float32 landmarks per frame, NaN where
        lost (None when no frame has a face); (F,) bool found; per frame the
        mouth patch or None (always None without ``keep_mouths``); the frame
        size (width, height); the frames that start a new shot,
        :func:`reenactor.face.cuts.find_cuts`). ``timer`` (optional) gets the
        "decode" and "landmarks" stages.
    """
    raw: FrameFile | None = None
    found = bytearray()
    diffs, thumb = array("d"), None
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
            prev, thumb = thumb, cuts.thumbnail(frame)
            diffs.append(float("nan") if prev is None else cuts.frame_difference(prev, thumb))
            if prev is not None and cuts.likely_cut(diffs[-1], np.frombuffer(diffs, np.float64)[-1 - cuts.WINDOW:-1]):
                det.new_shot()
            lm = det.detect(frame)
            frame_size = (frame.shape[1], frame.shape[0])
            if lm is not None and raw is None:  # the frames before the first face: NaN
                raw = store.file("raw", lm.shape, np.float32)
                for _ in found:
                    raw.append(np.full(lm.shape, np.nan, np.float32))
            if raw is not None:
                raw.append(lm if lm is not None else np.full(raw.frame_shape, np.nan, np.float32))
            found.append(lm is not None)
            mouths.append(extract_mouth_patch(frame, lm) if lm is not None and keep_mouths else None)
            t2 = time.perf_counter()
            if timer is not None:
                timer.add("decode", t1 - t0)
                timer.add("landmarks", t2 - t1)
            if progress:
                progress(1)
    shots = cuts.find_cuts(np.frombuffer(diffs, np.float64))
    return raw, np.frombuffer(bytes(found), np.uint8).astype(bool), mouths, frame_size, shots


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

    The per-frame landmarks live in temporary files (see the module), removed
    on an error here and otherwise with the track (:meth:`DriverTrack.close`).

    Args:
        keep_mouths: keep every frame's mouth patch (else keep the detected
            landmarks, :attr:`DriverTrack.raw`, to cut them again later).

    Raises:
        NoFaceError: no frame has a face.
        InputError: no frames; reference_frame out of range or without a face.
    """
    store = TrackStore()
    try:
        raw, found, mouths, frame_size, shots = detect_driver(frames, config, store, progress, timer, keep_mouths)
        if not len(found):
            raise InputError("the driver has no frames")
        if raw is None:
            raise NoFaceError("no face found in any frame of the driver")
        smoothed = _fill_and_smooth(store, raw, found, fps, config, shots)
        ref = pick_reference(config, smoothed, found, frame_size, portrait, reference_frame)
        if keep_mouths:
            raw.close()
        return DriverTrack(smoothed, found, mouths, fps, ref.index, ref.distance, ref.rule,
                           None if keep_mouths else raw, store, tuple(shots))
    except BaseException:
        store.close()
        raise


def _fill_and_smooth(store: TrackStore, raw: FrameFile, found: np.ndarray, fps: float,
                     config: ReenactorConfig, shots: Sequence[int] = ()) -> FrameFile:
    """The "landmarks" file of ``store``: ``raw`` filled (:func:`fill_frames`) and smoothed
    (:func:`reenactor.face.smooth.smooth_frames`, in units of the median
    inter-ocular distance of the frames with a face, restarting at the shot
    cuts ``shots``), (F, 478, 3) float32."""
    k = int(np.argmax(found))
    filled = store.file("filled", raw.frame_shape, np.float32)
    iods = array("d")  # inter-ocular distance of each frame with a face, pixels
    detected = (r if ok else None for r, ok in zip(raw, found))
    for frame, ok in zip(fill_frames(detected, raw[k], k, config.smoothing.lost_blend_frames), found):
        filled.append(frame)
        if ok:
            iods.append(inter_ocular(frame))
    iod = float(np.median(np.frombuffer(iods, np.float64)))
    two_pass = config.smoothing.two_pass
    out = store.file("landmarks", raw.frame_shape, np.float32, len(found))
    scratch = store.file("forward", raw.frame_shape, np.float64, len(found)) if two_pass else None
    smooth_frames(filled, out, fps, max(iod, 1.0), config.smoothing, two_pass, scratch, shots)
    filled.close()
    if scratch is not None:
        scratch.close()
    return out
