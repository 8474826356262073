"""One frame loop for every entry path: a source of driving targets, the renderer, a sink.

:func:`run` is the loop: the source yields, frame after frame, the target
landmarks of the portrait's face (crop pixels) and the driver's mouth patch;
the renderer draws them; the sink takes the frames. Sources:

* :class:`TrackedSource`: driver frames (a video file through
  :func:`video_source`, or frames in memory), tracked as a whole first
  (two-pass smoothing, the reference frame matched to the portrait; the
  landmarks in temporary files), then retargeted frame by frame;
* :class:`MotionSource`: a built-in motion (:mod:`reenactor.motion.templates`);
* :class:`StillSource`: one still driver image;
* :class:`LiveSource`: frames one at a time, causally (webcam); also behind
  :class:`reenactor.api.LiveSession`.

Sinks: :class:`VideoSink` (H.264 with the driver's audio, encoded on a second
thread), :class:`ImageSink` (one still), :class:`ListSink` (in memory). Every
file sink tags its output as synthetic (:mod:`reenactor.io.provenance`).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from reenactor.api import PreparedPortrait, Reenactor, StageTimer, even_size, progress_bar, video_size
from reenactor.errors import NoFaceError, OutputError
from reenactor.face.topology import inter_ocular
from reenactor.motion.ldnet import make_retargeter
from reenactor.render.mouth import MouthPatch, extract_mouth_patch
from reenactor.stages import finish_frame, fit_frame

Target = tuple[np.ndarray | None, MouthPatch | None]


class Source:
    """Driving targets for one portrait. Subclasses set ``fps``, ``audio`` and ``label``."""

    fps: float | None = None
    audio: Path | None = None
    label: str = "rendering"

    def open(self, reenactor: Reenactor, portrait: PreparedPortrait, timer: StageTimer, progress: bool) -> int | None:
        """Get ready (e.g. track the driver); returns how many targets will follow, if known."""
        raise NotImplementedError

    def targets(self) -> Iterator[Target]:
        """(478, 3) target landmarks in the portrait's crop pixels (None: show the portrait as it is), mouth patch."""
        raise NotImplementedError

    def stats(self) -> dict:
        return {}


class TrackedSource(Source):
    """Driver frames, tracked as a whole, then retargeted frame by frame.

    Args:
        frames: HxWx3 uint8 RGB driver frames.
        fps: their frame rate.
        motion: "relative" / "absolute" (None: the configuration's).
        reference_frame: motion reference (None: the configuration's, else matched to the portrait).
        total: number of frames, for the progress bar.
        audio: file whose audio a video sink muxes (the driver video).
        reread: returns the same frames again (a file decoded anew): then the
            mouth patches are cut while rendering instead of being held for the
            whole driver, and memory stays flat in its length (the landmarks
            are in temporary files, :mod:`reenactor.tracking`).

    The track's temporary files are removed when :meth:`targets` ends or is
    closed (also on an error), by :meth:`close`, or when the source is
    garbage-collected.
    """

    def __init__(self, frames: Iterable[np.ndarray], fps: float, motion: str | None = None,
                 reference_frame: int | None = None, total: int | None = None, audio: Path | None = None,
                 reread=None) -> None:
        self.frames, self.fps, self.motion, self.reference_frame = frames, fps, motion, reference_frame
        self.total, self.audio, self.reread = total, audio, reread

    def open(self, reenactor, portrait, timer, progress):
        with progress_bar(self.total, "tracking driver", progress) as bar:
            self.track = reenactor.track(self.frames, self.fps, self.reference_frame, bar.update, timer,
                                         portrait=portrait, keep_mouths=self.reread is None)
        try:
            self._rt = reenactor.retargeter(portrait, self.track, self.motion)
        except BaseException:
            self.close()
            raise
        self._timer = timer
        return len(self.track.landmarks)

    def close(self) -> None:
        """Remove the track's temporary files (the statistics stay)."""
        track = getattr(self, "track", None)
        if track is not None:
            track.close()

    def _mouths(self) -> Iterator[MouthPatch | None]:
        if self.reread is None:
            yield from self.track.mouths
            return
        for frame, found, raw in zip(self.reread(), self.track.found, self.track.raw):
            t0 = time.perf_counter()
            patch = extract_mouth_patch(frame, raw) if found else None
            self._timer.add("mouth_patch", time.perf_counter() - t0)
            yield patch

    def targets(self):
        try:
            for lm, mouth in zip(self.track.landmarks, self._mouths()):
                t0 = time.perf_counter()
                target = self._rt(lm)
                self._timer.add("retarget", time.perf_counter() - t0)
                yield target, mouth
        finally:
            self.close()

    def stats(self):
        t = self.track
        return {
            "faces_lost": t.lost,
            "reference_frame": t.reference,
            "reference_rule": t.reference_rule,
            "reference_distance": None if np.isnan(t.reference_distance) else round(t.reference_distance, 3),
            "shot_cuts": list(t.cuts),
            "fps_driver": round(self.fps, 3),
        }


def video_source(path: Path, max_frames: int | None = None, motion: str | None = None,
                 reference_frame: int | None = None) -> TrackedSource:
    """A :class:`TrackedSource` over a driver video file (decoded once, its audio kept)."""
    from reenactor.io.video import iter_frames, probe_video

    info = probe_video(path, what="driver")
    total = info.n_frames if max_frames is None or info.n_frames is None else min(info.n_frames, max_frames)
    frames = iter_frames(path, max_frames, what="driver")
    return TrackedSource(frames, info.fps, motion, reference_frame, total, Path(path) if info.has_audio else None,
                         reread=lambda: iter_frames(path, max_frames, what="driver"))


class MotionSource(Source):
    """A built-in motion: ``name`` of :data:`reenactor.motion.templates.TEMPLATES`, at ``fps``."""

    def __init__(self, name: str, fps: float = 25.0, max_frames: int | None = None) -> None:
        from reenactor.motion.templates import template

        self.name, self.fps = name, fps
        self.params = template(name, fps)[:max_frames]
        self.label = f"rendering '{name}'"

    def open(self, reenactor, portrait, timer, progress):
        from reenactor.motion.controls import control_params
        from reenactor.motion.templates import ExpressionBasis

        self._basis, self._timer = ExpressionBasis(portrait.rig), timer
        self._control = control_params(reenactor.config.retarget, own_yaw=portrait.rig.yaw)
        return len(self.params)

    def targets(self):
        for p in self.params:
            t0 = time.perf_counter()
            target = self._basis.landmarks(self._control(p))
            self._timer.add("retarget", time.perf_counter() - t0)
            yield target, None

    def stats(self):
        return {"faces_lost": 0, "reference_frame": None, "motion": self.name, "fps_driver": self.fps}


class StillSource(Source):
    """One still driver image (HxWx3 uint8 RGB): its pose and expression measures (see
    :func:`reenactor.motion.templates.params_from_still`), under the motion controls
    (:func:`reenactor.motion.controls.control_params`; ``pose="auto"`` keeps the
    portrait's own head pose)."""

    def __init__(self, image: np.ndarray, name: str = "the driver image") -> None:
        self.image, self.name = image, name

    def open(self, reenactor, portrait, timer, progress):
        from reenactor.motion.controls import control_params
        from reenactor.motion.templates import ExpressionBasis, params_from_still

        faces = reenactor._still_detector().detect_all(self.image)
        if not faces:
            raise NoFaceError(f"no face found in {self.name}")
        control = control_params(reenactor.config.retarget, still=True, own_yaw=portrait.rig.yaw)
        params = control(params_from_still(faces[0], portrait.landmarks))
        self._target = ExpressionBasis(portrait.rig).landmarks(params)
        return 1

    def targets(self):
        yield self._target, None

    def stats(self):
        return {"faces_lost": 0, "reference_frame": None, "fps_end_to_end": None}


class LiveSource(Source):
    """Frames one at a time, causally: the first frame with a face is the motion
    reference, a One-Euro filter smooths forwards only, frames without a face hold
    the last pose (None before any face: the portrait as it is)."""

    def __init__(self, frames: Iterable[np.ndarray] = (), fps: float = 25.0, motion: str | None = None) -> None:
        self.frames, self.fps, self.motion = frames, fps, motion
        self.lost = 0

    def open(self, reenactor, portrait, timer, progress):
        from reenactor.face.landmarks import LandmarkDetector
        from reenactor.face.smooth import OneEuroFilter

        self._r, self._portrait = reenactor, portrait
        self.detector = LandmarkDetector(static_image_mode=False, config=reenactor.config.detection)
        self.filter = OneEuroFilter(self.fps, reenactor.config.smoothing)
        self._retarget, self._last, self._scale = None, None, 1.0
        return None

    def target_for(self, frame: np.ndarray) -> Target:
        """The target of one frame (see the class)."""
        lm = self.detector.detect(frame)
        patch = extract_mouth_patch(frame, lm) if lm is not None else None
        if lm is None:
            self.lost += 1
            if self._last is None:
                return None, None
            smoothed = self._last
        else:
            if self._retarget is None:
                cfg = self._r.config.retarget if self.motion is None else replace(self._r.config.retarget, mode=self.motion)
                self._scale = max(inter_ocular(lm), 1.0)
                self._retarget = make_retargeter(self._portrait.crop_landmarks, lm, cfg)
            smoothed = self.filter(lm / self._scale) * self._scale
            self._last = smoothed
        return self._retarget(smoothed), patch

    def targets(self):
        for frame in self.frames:
            yield self.target_for(frame)

    def stats(self):
        return {"faces_lost": self.lost, "reference_frame": None, "fps_driver": self.fps}

    def close(self) -> None:
        self.detector.close()


class Sink:
    """Takes the rendered frames. ``open`` gets the renderer, portrait and source."""

    output_size: list[int] | None = None

    def open(self, reenactor: Reenactor, portrait: PreparedPortrait, crop_output: bool, source: Source, timer: StageTimer) -> None:
        raise NotImplementedError

    def write(self, frame: np.ndarray) -> None:
        raise NotImplementedError

    def close(self, abort: bool = False) -> None:
        """Finish (or, with ``abort``, drop) the output."""

    def frame_size(self, reenactor: Reenactor, portrait: PreparedPortrait, crop_output: bool) -> tuple[int, int] | None:
        """(width, height) this sink keeps of a full-portrait frame, when it keeps less
        than the portrait (:func:`run` then draws a fitted portrait); None keeps all."""
        return None


class VideoSink(Sink):
    """An H.264 video at ``path``: within ``OutputConfig.max_size``, the source's audio muxed,
    encoded on a second thread, tagged as synthetic, optionally watermarked."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def open(self, reenactor, portrait, crop_output, source, timer):
        from reenactor.io.background import BackgroundWriter
        from reenactor.io.provenance import provenance
        from reenactor.io.video import VideoWriter

        out = self._out = reenactor.config.output
        w, h = self.size = video_size(reenactor, portrait, crop_output)
        self.output_size = [w, h]
        self._video = VideoWriter(self.path, fps=source.fps, size=(w, h), audio_source=source.audio,
                                  crf=out.crf, preset=out.preset, metadata=provenance())
        # Frames waiting for the encoder: up to 4, at most ~64 MB of them (a 4000 px frame is 28-48 MB).
        depth = int(np.clip((64 << 20) // (3 * w * h), 1, 4))
        self._writer = BackgroundWriter(self._video.write, depth=depth, on_written=timer.encoded)
        self._timer = timer

    def write(self, frame):
        self._writer.put(finish_frame(fit_frame(frame, *self.size), self._out))

    def frame_size(self, reenactor, portrait, crop_output):
        return None if crop_output else video_size(reenactor, portrait, crop_output)

    def close(self, abort=False):
        try:
            self._writer.close(abort=abort)
        except BaseException:
            self._video.abort()
            raise
        if abort:
            self._video.abort()
            return
        t0 = time.perf_counter()
        self._video.close()
        self._timer.add("mux_audio", time.perf_counter() - t0)


class ImageSink(Sink):
    """One still image at ``path`` (its format from the extension), tagged as synthetic."""

    def __init__(self, path: Path) -> None:
        self.path, self._written = Path(path), False

    def open(self, reenactor, portrait, crop_output, source, timer):
        self._out, self._timer = reenactor.config.output, timer

    def write(self, frame):
        from reenactor.io.image import write_image
        from reenactor.io.provenance import provenance

        if self._written:
            raise OutputError(f"{self.path} is an image: the driver gave more than one frame")
        write_image(self.path, finish_frame(frame, self._out), metadata=provenance())
        self.output_size, self._written = [frame.shape[1], frame.shape[0]], True
        self._timer.first_frame = time.perf_counter()


class ListSink(Sink):
    """Frames in memory (:attr:`frames`), full portraits rounded down to even sizes."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def open(self, reenactor, portrait, crop_output, source, timer):
        self._even = None if crop_output else even_size(portrait.size[1], portrait.size[0])
        self._timer = timer

    def write(self, frame):
        self.frames.append(frame if self._even is None else frame[: self._even[0], : self._even[1]])
        self.output_size = [self.frames[-1].shape[1], self.frames[-1].shape[0]]
        if self._timer.first_frame is None:
            self._timer.first_frame = time.perf_counter()


def run(reenactor: Reenactor, portrait: PreparedPortrait, source: Source, sink: Sink, *,
        crop_output: bool = False, progress: bool = False) -> dict:
    """Drive ``portrait`` by ``source`` into ``sink``: the one frame loop.

    Returns:
        Statistics: frames, per-stage milliseconds per frame, fps, seconds,
        time to the first written frame, output size, audio, and the
        source's own (faces lost, reference frame, ...).
    """
    timer, t_start = StageTimer(), time.perf_counter()
    portrait = reenactor.bind(portrait)
    size = sink.frame_size(reenactor, portrait, crop_output)
    if size is not None:  # drawn at the size written, not shrunk every frame
        portrait = reenactor.fit(portrait, size)
    total = source.open(reenactor, portrait, timer, progress)
    sink.open(reenactor, portrait, crop_output, source, timer)
    n = 0
    try:
        with progress_bar(total, source.label, progress) as bar:
            for target, mouth in source.targets():
                if target is None:  # nothing to drive yet: the portrait as it is
                    frame = (portrait.crop_image if crop_output else portrait.image).copy()
                else:
                    frame = reenactor.render(portrait, target, mouth, crop_output, timer)
                sink.write(frame)
                n += 1
                bar.update(1)
    except BaseException:
        sink.close(abort=True)
        raise
    sink.close()
    elapsed = time.perf_counter() - t_start
    stats = {
        "frames": n,
        "fps_end_to_end": round(n / elapsed, 2),
        "seconds": round(elapsed, 2),
        "first_frame_s": None if timer.first_frame is None else round(timer.first_frame - t_start, 3),
        "output_size": sink.output_size,
        "audio": source.audio is not None,
        "ms_per_frame": timer.per_frame(n),
    }
    stats.update(source.stats())
    return stats
