"""Live reenactment from a camera, or from a file played like one (``reenactor live``).

Three parts, each on its own thread where it must be:

* :class:`FrameSlot`: a one-frame mailbox. The capture side puts every frame
  in; the render side always takes the newest. A frame replaced before the
  render loop took it is dropped (counted), so frames never queue up and the
  latency stays bounded when the machine cannot keep up.
* :class:`Capture`: the capture thread. ``open_capture("0")`` reads webcam 0
  through OpenCV; ``open_capture("clip.mp4")`` decodes a file and releases its
  frames at the file's frame rate in real time, as a camera would. A frame's
  capture time is the moment it is released (``time.perf_counter()``, seconds).
* :func:`run_live`: the render loop. Per frame: landmarks and target
  (:meth:`reenactor.pipeline.LiveSource.target_for`: face landmarks, mouth
  patch, One-Euro smoothing, retarget), render of the working crop
  (:meth:`reenactor.api.Reenactor.render`, ``crop_output=True``), then the
  frame is handed to ``show`` (preview / recorder, or nothing in a benchmark).
  End-to-end latency = the moment ``show`` returned minus the capture time.

Frames are ``H x W x 3`` uint8 RGB throughout. Nothing here prints: the CLI
layer (:mod:`reenactor.livecli`) reports.
"""

from __future__ import annotations

import resource
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from reenactor.errors import InputError

__all__ = ["FrameSlot", "Capture", "open_capture", "LiveStats", "run_live"]

#: A captured frame: (capture index from 0, capture time in perf_counter seconds, HxWx3 uint8 RGB).
Captured = tuple[int, float, np.ndarray]


class FrameSlot:
    """Holds only the newest captured frame; an older one not yet taken is dropped.

    ``captured`` counts every :meth:`put`, ``dropped`` every frame replaced
    (or left over by :meth:`discard`) before :meth:`take` got it, so at the
    end ``taken + dropped == captured``.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Captured | None = None
        self._closed = False
        self.error: BaseException | None = None
        self.captured = 0
        self.dropped = 0
        self.taken = 0

    def put(self, frame: np.ndarray, t_capture: float) -> None:
        """Offer one frame (HxWx3 uint8 RGB) captured at ``t_capture`` (perf_counter seconds)."""
        with self._cond:
            if self._item is not None:
                self.dropped += 1
            self._item = (self.captured, t_capture, frame)
            self.captured += 1
            self._cond.notify_all()

    def close(self, error: BaseException | None = None) -> None:
        """No more frames will come (``error``: why the capture stopped early, re-raised by :meth:`take`)."""
        with self._cond:
            self._closed = True
            self.error = error
            self._cond.notify_all()

    def take(self, timeout: float = 0.5) -> Captured | None:
        """The newest frame not taken yet, waiting up to ``timeout`` s for one.

        Returns:
            (index, capture time, frame), or None when the capture has ended and
            nothing is left, or nothing came within ``timeout``; see :attr:`ended`.

        Raises:
            The capture thread's error (e.g. :class:`InputError`), once it has ended.
        """
        with self._cond:
            if self._item is None and not self._closed:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            if item is not None:
                self.taken += 1
            elif self._closed and self.error is not None:
                raise self.error
            return item

    @property
    def ended(self) -> bool:
        """The capture has ended and its last frame was taken or dropped."""
        with self._cond:
            return self._closed and self._item is None

    def discard(self) -> None:
        """Count a frame still waiting as dropped (the loop stopped before taking it)."""
        with self._cond:
            if self._item is not None:
                self.dropped += 1
                self._item = None


class Capture:
    """The capture thread: reads frames and puts them into a :class:`FrameSlot`.

    Args:
        frames: yields HxWx3 uint8 RGB frames (a webcam read loop or a decoder).
        fps: the source's frame rate (frames per second).
        paced: release frame ``i`` no earlier than ``start + i / fps`` (a file
            played like a camera); a webcam paces itself.
        name: what the source is, for messages ("camera 0", "clip.mp4").
        size: (width, height) in pixels of its frames.
        max_frames: stop after this many frames (None: until the source ends or :meth:`stop`).
        release: frees the device (called by :meth:`stop`, also when the thread never started).
    """

    def __init__(self, frames: Iterator[np.ndarray], fps: float, paced: bool, name: str, size: tuple[int, int],
                 max_frames: int | None = None, release: Callable[[], None] | None = None) -> None:
        self.frames, self.fps, self.paced, self.name, self.size = frames, fps, paced, name, size
        self.release = release
        self.max_frames = max_frames
        self.slot = FrameSlot()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reenactor-capture", daemon=True)
        self.t_first: float | None = None
        self.t_last: float | None = None

    def start(self) -> None:
        """Start capturing (the clock of a paced file starts now)."""
        self._thread.start()

    def _run(self) -> None:
        error = None
        try:
            start = time.perf_counter()
            for i, frame in enumerate(self.frames):
                if self._stop.is_set() or (self.max_frames is not None and i >= self.max_frames):
                    break
                if self.paced:
                    wait = start + i / self.fps - time.perf_counter()
                    if wait > 0 and self._stop.wait(wait):
                        break
                now = time.perf_counter()
                self.t_first = now if self.t_first is None else self.t_first
                self.t_last = now
                self.slot.put(frame, now)
        except BaseException as exc:  # handed to the render loop through the slot
            error = exc
        finally:
            close = getattr(self.frames, "close", None)
            if close is not None:
                close()
            self.slot.close(error)

    def stop(self) -> None:
        """Stop capturing and wait for the thread to end."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self.release is not None:
            self.release()


def _camera_frames(cap) -> Iterator[np.ndarray]:
    """Frames of an open ``cv2.VideoCapture`` as HxWx3 uint8 RGB, until a read fails; releases it."""
    import cv2

    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                return
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def _log_level_functions():
    """OpenCV's (getLogLevel, setLogLevel): top-level up to 4.11, in ``cv2.utils.logging`` from 4.12."""
    import cv2

    if hasattr(cv2, "getLogLevel"):
        return cv2.getLogLevel, cv2.setLogLevel
    import cv2.utils.logging as log

    return log.getLogLevel, log.setLogLevel


def _open_camera(index: int, max_frames: int | None) -> Capture:
    """Webcam ``index`` through OpenCV (its own warnings kept quiet; our error says what failed)."""
    import cv2

    get_level, set_level = _log_level_functions()
    level = get_level()
    set_level(0)  # silent
    try:
        cap = cv2.VideoCapture(index)
        ok, first = cap.read() if cap.isOpened() else (False, None)
    finally:
        set_level(level)
    if not ok:
        cap.release()
        raise InputError(f"cannot open camera {index}: no such camera, or it gives no picture (a video file works too: --camera clip.mp4)")
    fps = cap.get(cv2.CAP_PROP_FPS)
    fps = fps if 1 <= fps <= 240 else 30.0
    h, w = first.shape[:2]
    return Capture(_camera_frames(cap), fps, paced=False, name=f"camera {index}", size=(w, h), max_frames=max_frames,
                   release=cap.release)


def open_capture(camera: str, max_frames: int | None = None) -> Capture:
    """A :class:`Capture` (not started) for ``camera``: a webcam index ("0") or a video file.

    Raises:
        InputError: the camera cannot be opened, or the file is missing or not a video.
    """
    from reenactor.io.video import iter_frames, probe_video

    text = camera.strip()
    if text.lstrip("-").isdigit():
        if int(text) < 0:
            raise InputError(f"camera index must be 0 or more, got {text}")
        return _open_camera(int(text), max_frames)
    path = Path(camera)
    if not path.is_file():
        raise InputError(f"cannot open camera {camera!r}: not a camera index and no such video file")
    info = probe_video(path, what="camera file")
    return Capture(iter_frames(path, what="camera file"), info.fps, paced=True, name=str(path), size=(info.width, info.height),
                   max_frames=max_frames)


@dataclass
class LiveStats:
    """What :func:`run_live` measured. Times in milliseconds, one entry per shown frame."""

    source: str
    camera_fps: float
    captured: int = 0
    shown: int = 0
    dropped: int = 0
    faces_lost: int = 0
    interrupted: bool = False
    latency_ms: list[float] = field(default_factory=list)
    landmarks_ms: list[float] = field(default_factory=list)
    render_ms: list[float] = field(default_factory=list)
    span_s: float = 0.0
    t_first_show: float | None = None
    t_last_show: float | None = None

    def fps_shown(self) -> float:
        """Frames shown per second, from the first shown frame to the last (0.0 below two)."""
        if self.shown < 2 or self.t_first_show is None or self.t_last_show <= self.t_first_show:
            return 0.0
        return round((self.shown - 1) / (self.t_last_show - self.t_first_show), 2)

    def summary(self) -> dict:
        """The figures as a JSON-ready dict: counts, drop rate, fps shown, latency median/p90/max,
        median per-stage ms, peak RSS (MB)."""
        lat = np.asarray(self.latency_ms or [np.nan])
        med = lambda v: round(float(np.median(v)), 2) if v else None  # noqa: E731
        return {
            "source": self.source,
            "camera_fps": round(self.camera_fps, 3),
            "frames_captured": self.captured,
            "frames_shown": self.shown,
            "frames_dropped": self.dropped,
            "seconds": round(self.span_s, 2),
            "drop_rate": round(self.dropped / self.captured, 4) if self.captured else 0.0,
            "fps_shown": self.fps_shown(),
            "latency_ms": {"median": round(float(np.median(lat)), 2), "p90": round(float(np.percentile(lat, 90)), 2),
                           "max": round(float(lat.max()), 2)} if self.latency_ms else None,
            "stage_ms_median": {"landmarks": med(self.landmarks_ms), "render": med(self.render_ms)},
            "faces_lost": self.faces_lost,
            "interrupted": self.interrupted,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        }


def render_one(session, frame: np.ndarray) -> tuple[np.ndarray, float, float]:
    """One live frame through ``session`` (a :class:`reenactor.live.LiveSession` made with
    ``crop_output=True``): same result as ``session.step(frame)``, timed.

    Returns:
        (work_size square HxWx3 uint8 RGB, landmarks+target seconds, render seconds).
    """
    t0 = time.perf_counter()
    target, patch = session.source.target_for(frame)
    t1 = time.perf_counter()
    if target is None:
        out = session.portrait.crop_image.copy()
    else:
        out = session.r.render(session.portrait, target, patch, True)
    return out, t1 - t0, time.perf_counter() - t1


def run_live(session, capture: Capture, show: Callable[[np.ndarray, int], None] | None = None,
             tick: Callable[[LiveStats], None] | None = None) -> LiveStats:
    """Render the newest captured frame, again and again, until the capture ends or Ctrl-C.

    Args:
        session: a :class:`reenactor.live.LiveSession` with ``crop_output=True``.
        capture: from :func:`open_capture`; started here.
        show: gets each rendered frame (HxWx3 uint8 RGB) and its capture index;
            the moment it returns is the display time. None: nothing shown (benchmark).
        tick: called about once a second with the figures so far (progress line).

    Returns:
        :class:`LiveStats`; ``interrupted`` is True after Ctrl-C (the loop stops
        cleanly: capture thread ended, the waiting frame counted as dropped).
    """
    stats = LiveStats(capture.name, capture.fps)
    slot, last_tick, t_end = capture.slot, time.perf_counter(), None
    capture.start()
    try:
        while not slot.ended:
            item = slot.take()
            if item is None:
                continue
            index, t_capture, frame = item
            out, t_lm, t_render = render_one(session, frame)
            if show is not None:
                show(out, index)
            t_end = time.perf_counter()
            stats.t_first_show = t_end if stats.t_first_show is None else stats.t_first_show
            stats.t_last_show = t_end
            stats.latency_ms.append((t_end - t_capture) * 1000)
            stats.landmarks_ms.append(t_lm * 1000)
            stats.render_ms.append(t_render * 1000)
            if tick is not None and t_end - last_tick >= 1.0:
                last_tick = t_end
                _count(stats, session, capture, t_end)
                tick(stats)
    except KeyboardInterrupt:
        stats.interrupted = True
    finally:
        capture.stop()
        slot.discard()
    _count(stats, session, capture, t_end)
    return stats


def _count(stats: LiveStats, session, capture: Capture, t_end: float | None) -> None:
    """Copy the slot's and the session's counters into ``stats``; the span runs from the first capture to ``t_end``."""
    slot = capture.slot
    stats.captured, stats.dropped, stats.shown = slot.captured, slot.dropped, slot.taken
    stats.faces_lost = session.lost
    if capture.t_first is not None and t_end is not None:
        stats.span_s = max(t_end - capture.t_first, 1e-9)
