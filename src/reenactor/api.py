"""The orchestration of the pipeline: :class:`Reenactor` (no pixel work here).

::

    from reenactor import Reenactor
    from reenactor.api import animate_file
    r = Reenactor()
    portrait = r.prepare(read_image("portrait.jpg"))       # once per portrait
    stats = animate_file(r, portrait, "driver.mp4", "out.mp4")
    # or frame by frame (live): the first frame with a face is the reference
    session = r.session(portrait, fps=25)
    out = session.step(frame)                              # HxWx3 uint8 RGB

Stages: landmarks (mediapipe's Face Mesh networks, :mod:`reenactor.face`) ->
tracking and smoothing -> reference frame -> retargeting onto the portrait's
own face (:mod:`reenactor.motion`) -> the compositor
(:mod:`reenactor.render.compositor`: warp, layers, mouth, eyes, paste back).
Every entry path runs the one frame loop of :mod:`reenactor.pipeline`.
Re-exported here: :class:`~reenactor.live.LiveSession`, and the job
bookkeeping of :mod:`reenactor.stages` (:class:`StageTimer`, the progress bar,
the output video size).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from reenactor.config import ReenactorConfig, RenderConfig
from reenactor.errors import InputError, NoFaceError
from reenactor.face.landmarks import LandmarkDetector
from reenactor.live import LiveSession
from reenactor.motion.ldnet import make_retargeter
from reenactor.motion.reference import ReferenceChoice
from reenactor.motion.retarget import PortraitRig, Retargeter
from reenactor.motion.templates import ExpressionBasis, MotionParams
from reenactor.render.compositor import Compositor
from reenactor.render.crop import CropTransform
from reenactor.render.mouth import MouthPatch
from reenactor.stages import StageTimer, even_size, fitted_inputs, progress_bar, video_size
from reenactor.tracking import DriverTrack, fill_lost, pick_reference, track_driver

__all__ = ["Reenactor", "PreparedPortrait", "DriverTrack", "LiveSession", "StageTimer", "fill_lost",
           "animate_file", "animate_template", "video_size", "even_size", "progress_bar"]

#: RenderConfig fields that define the working crop (its size and place).
CROP_FIELDS = ("work_size", "crop_scale", "crop_shift", "crop_margin_blur")


@dataclass
class PreparedPortrait:
    """A portrait analysed once, ready to be driven.

    Attributes:
        image: HxWx3 uint8 RGB portrait as given.
        landmarks: (478, 3) float64 landmarks in image pixels.
        crop: image -> working-crop transform.
        crop_landmarks: (478, 3) landmarks in crop pixels.
        crop_image: SxSx3 uint8 RGB working crop (S = work_size).
        faces: number of faces found in the portrait.
        render_config: the :class:`~reenactor.config.RenderConfig` it was
            prepared with; the crop, its landmarks and every cached drawing
            space belong to it. A :class:`Reenactor` with another render
            configuration draws from its own view of the portrait
            (:meth:`Reenactor.bind`), never from these caches.
    """

    image: np.ndarray
    landmarks: np.ndarray
    crop: CropTransform
    crop_landmarks: np.ndarray
    crop_image: np.ndarray
    faces: int
    rig: PortraitRig
    render_config: RenderConfig | None = None
    _spaces: dict = field(default_factory=dict, repr=False)
    _views: dict = field(default_factory=dict, repr=False)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the portrait."""
        return self.image.shape[1], self.image.shape[0]


class Reenactor:
    """One-shot portrait reenactment.

    Args:
        config: all settings; defaults are the recommended ones.
    """

    def __init__(self, config: ReenactorConfig | None = None) -> None:
        self.config = config or ReenactorConfig()  # validated when it was made (ConfigError)
        self.compositor = Compositor(self.config)
        self.warper = self.compositor.warper
        self._still: LandmarkDetector | None = None

    # ---------------------------------------------------------------- portrait
    def _still_detector(self) -> LandmarkDetector:
        if self._still is None:
            self._still = LandmarkDetector(static_image_mode=True, config=self.config.detection)
        return self._still

    def prepare(self, image: np.ndarray, face_index: int = 0) -> PreparedPortrait:
        """Analyse a portrait once.

        Args:
            image: HxWx3 uint8 RGB portrait.
            face_index: which face, counted from the largest (0).

        Raises:
            NoFaceError: no face, or fewer faces than ``face_index + 1``.
        """
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError("the portrait must be an HxWx3 uint8 RGB image")
        faces = self._still_detector().detect_all(image)
        if not faces:
            raise NoFaceError("no face found in the portrait")
        if face_index < 0 or face_index >= len(faces):
            raise NoFaceError(f"--face-index {face_index} asked, but the portrait has {len(faces)} face(s)")
        return self._derive(image, faces[face_index].astype(np.float64), len(faces))

    def _derive(self, image: np.ndarray, landmarks: np.ndarray, faces: int) -> PreparedPortrait:
        """The crop, its landmarks and rig of a found face, under this renderer's configuration."""
        cfg = self.config.render
        crop = CropTransform.around_face(landmarks, cfg)
        crop_lm = crop.to_crop(landmarks)
        return PreparedPortrait(
            image=image,
            landmarks=landmarks,
            crop=crop,
            crop_landmarks=crop_lm,
            crop_image=crop.extract(image, cfg.crop_margin_blur),
            faces=faces,
            rig=PortraitRig(crop_lm),
            render_config=cfg,
        )

    def bind(self, portrait: PreparedPortrait) -> PreparedPortrait:
        """``portrait`` as this renderer draws it.

        The portrait itself when it was prepared under this render
        configuration; otherwise its view for this configuration (the same
        picture and landmarks, its own crop and caches), made once and kept
        with the portrait. The face is not searched again.
        """
        cfg = self.config.render
        own = portrait.render_config
        if own is None or own is cfg or own == cfg:  # identity first: render() binds on every frame
            return portrait
        view = portrait._views.get(cfg)
        if view is None:
            view = portrait._views[cfg] = self._derive(portrait.image, portrait.landmarks, portrait.faces)
        return view

    def fit(self, portrait: PreparedPortrait, size: tuple[int, int]) -> PreparedPortrait:
        """``portrait`` (bound to this renderer) brought down to ``size`` (width, height).

        The picture is area-averaged once and its landmarks scaled with it
        (pixel centres kept), so a video capped below the portrait's size is
        drawn at that size instead of drawn large and shrunk every frame. The
        portrait itself when ``size`` is at most a pixel smaller (odd sizes are
        cut, not resampled). Made once and kept with the portrait; the face is
        not searched again. Target landmarks must come from the returned
        portrait's crop.
        """
        portrait = self.bind(portrait)
        (w, h), (fw, fh) = portrait.size, (int(size[0]), int(size[1]))
        if w - fw <= 1 and h - fh <= 1:
            return portrait
        key = ("fit", self.config.render, fw, fh)
        view = portrait._views.get(key)
        if view is None:
            view = portrait._views[key] = self._derive(*fitted_inputs(portrait.image, portrait.landmarks, (fw, fh)), portrait.faces)
        return view

    def _bound_for_render(self, portrait: PreparedPortrait) -> PreparedPortrait:
        """:meth:`bind`, for a caller whose target landmarks are in ``portrait``'s crop pixels.

        Raises:
            InputError: this renderer's crop differs from the portrait's
                (``CROP_FIELDS``), so those targets would land elsewhere.
        """
        cfg, own = self.config.render, portrait.render_config
        if own is None or own is cfg:
            return portrait
        diff = [name for name in CROP_FIELDS if getattr(cfg, name) != getattr(own, name)]
        if diff:
            raise InputError(
                f"this portrait was prepared with another face crop ({', '.join(diff)} differ): render "
                "reenactor.bind(portrait), with target landmarks in its crop"
            )
        return self.bind(portrait)

    def _space(self, portrait: PreparedPortrait, crop_output: bool):
        """The portrait's drawing space for this renderer (see :class:`Compositor`)."""
        return self.compositor._space(portrait, crop_output)

    def _edge(self, portrait: PreparedPortrait) -> np.ndarray:
        return self.compositor._edge(portrait)

    # ----------------------------------------------------------------- render
    def render(
        self,
        portrait: PreparedPortrait,
        target: np.ndarray,
        mouth: MouthPatch | None = None,
        crop_output: bool = False,
        timer: StageTimer | None = None,
    ) -> np.ndarray:
        """Render the portrait with its landmarks moved to ``target`` (the compositor's work).

        Args:
            portrait: from :meth:`prepare` of this renderer, or :meth:`bind`.
            target: (478, 3) target landmarks in that portrait's crop pixels.
            mouth: the driver's mouth patch for this frame, or None.
            crop_output: draw the working crop instead of the whole portrait.
            timer: per-stage timing, or None.

        Returns:
            HxWx3 uint8 RGB: the portrait's size, or work_size square.
        """
        return self.compositor.draw(self._bound_for_render(portrait), target, mouth, crop_output, timer)

    # ----------------------------------------------------------------- driver
    def track(
        self,
        frames: Iterable[np.ndarray],
        fps: float,
        reference_frame: int | None = None,
        progress: Callable[[int], None] | None = None,
        timer: StageTimer | None = None,
        *,
        portrait: PreparedPortrait | None = None,
        keep_mouths: bool = True,
    ) -> DriverTrack:
        """Detect, fill and smooth the driver's landmarks over a whole video
        (:func:`reenactor.tracking.track_driver`; ``keep_mouths`` see there).

        Args:
            frames: iterable of HxWx3 uint8 RGB driver frames.
            fps: frame rate of the driver.
            reference_frame: force the motion reference (None: automatic,
                see :meth:`choose_reference`).
            progress: called with 1 after each frame.
            portrait: the portrait the track will drive; the automatic
                reference is the driver frame that matches it best.

        Raises:
            NoFaceError: no frame has a face.
            InputError: reference_frame out of range or without a face.
        """
        return track_driver(frames, fps, self.config, reference_frame, progress, timer, portrait, keep_mouths)

    def choose_reference(
        self,
        landmarks: np.ndarray,
        found: np.ndarray,
        frame_size: tuple[int, int],
        portrait: PreparedPortrait | None,
        reference_frame: int | None = None,
    ) -> ReferenceChoice:
        """The driver's motion reference frame (:func:`reenactor.tracking.pick_reference`)."""
        return pick_reference(self.config, landmarks, found, frame_size, portrait, reference_frame)

    def retargeter(self, portrait: PreparedPortrait, track: DriverTrack, motion: str | None = None) -> Retargeter:
        """Retargeter from the track's reference frame onto the portrait (as :meth:`bind` gives it)."""
        from dataclasses import replace

        portrait = self.bind(portrait)
        cfg = self.config.retarget if motion is None else replace(self.config.retarget, mode=motion)
        return make_retargeter(portrait.crop_landmarks, track.landmarks[track.reference], cfg)

    def iter_render(
        self,
        portrait: PreparedPortrait,
        track: DriverTrack,
        crop_output: bool = False,
        motion: str | None = None,
        timer: StageTimer | None = None,
    ) -> Iterator[np.ndarray]:
        """Yield one rendered frame per driver frame (HxWx3 uint8 RGB)."""
        portrait = self.bind(portrait)
        rt = self.retargeter(portrait, track, motion)
        for i in range(len(track.landmarks)):
            t0 = time.perf_counter()
            target = rt(track.landmarks[i])
            if timer is not None:
                timer.add("retarget", time.perf_counter() - t0)
            yield self.render(portrait, target, track.mouths[i], crop_output, timer)

    def animate_frames(
        self,
        portrait: np.ndarray,
        driver_frames: Iterable[np.ndarray],
        fps: float = 25.0,
        reference_frame: int | None = None,
        motion: str = "relative",
        crop: bool = False,
        face_index: int = 0,
    ) -> list[np.ndarray]:
        """Animate a portrait array with in-memory driver frames.

        Args:
            portrait: HxWx3 uint8 RGB.
            driver_frames: iterable of HxWx3 uint8 RGB frames.
            fps: driver frame rate (used by the smoothing filter).
            reference_frame: motion reference (None: automatic).
            motion: "relative" (cross-identity) or "absolute" (same person).
            crop: return working crops instead of full portraits.

        Returns:
            One HxWx3 uint8 RGB frame per driver frame, the portrait's size
            rounded down to even width and height (or the crop).
        """
        from reenactor.pipeline import ListSink, TrackedSource, run

        prepared = self.prepare(portrait, face_index)
        sink = ListSink()
        run(self, prepared, TrackedSource(driver_frames, fps, motion, reference_frame), sink, crop_output=crop)
        return sink.frames

    def animate_params(
        self, portrait: PreparedPortrait, params: Sequence[MotionParams], crop_output: bool = False, timer: StageTimer | None = None
    ) -> Iterator[np.ndarray]:
        """Yield frames for procedural motion (see :mod:`reenactor.motion.templates`), under the
        motion controls of the configuration (:func:`reenactor.motion.controls.control_params`)."""
        from reenactor.motion.controls import control_params

        portrait = self.bind(portrait)
        basis, control = ExpressionBasis(portrait.rig), control_params(self.config.retarget, own_yaw=portrait.rig.yaw)
        for p in params:
            t0 = time.perf_counter()
            target = basis.landmarks(control(p))
            if timer is not None:
                timer.add("retarget", time.perf_counter() - t0)
            yield self.render(portrait, target, None, crop_output, timer)

    def session(self, portrait: PreparedPortrait, fps: float = 25.0, crop_output: bool = False, motion: str | None = None) -> LiveSession:
        """A frame-by-frame driver (webcam-style): see :class:`LiveSession`."""
        return LiveSession(self, self.bind(portrait), fps, crop_output, motion)


# ------------------------------------------------------------------ file jobs
def animate_file(
    reenactor: Reenactor,
    portrait: PreparedPortrait,
    driving: Path,
    output: Path,
    *,
    max_frames: int | None = None,
    crop_output: bool = False,
    motion: str | None = None,
    reference_frame: int | None = None,
    progress: bool = False,
) -> dict:
    """Animate ``portrait`` with a driving video file and write ``output``.

    The driver is decoded once: pass 1 tracks its landmarks (and keeps its
    mouth patches), pass 2 renders and encodes, muxing the driver's audio.
    The output is written to a temporary file and renamed when complete.
    (:func:`reenactor.pipeline.run` with :func:`~reenactor.pipeline.video_source`
    and :class:`~reenactor.pipeline.VideoSink`.)

    Returns:
        Statistics: frames, faces lost, reference frame, per-stage
        milliseconds per frame, fps, sizes.
    """
    from reenactor.pipeline import VideoSink, run, video_source

    source = video_source(Path(driving), max_frames, motion, reference_frame)
    return run(reenactor, portrait, source, VideoSink(Path(output)), crop_output=crop_output, progress=progress)


def animate_template(
    reenactor: Reenactor,
    portrait: PreparedPortrait,
    name: str,
    output: Path,
    *,
    fps: float = 25.0,
    max_frames: int | None = None,
    crop_output: bool = False,
    progress: bool = False,
) -> dict:
    """Animate ``portrait`` with a built-in motion and write a video."""
    from reenactor.pipeline import MotionSource, VideoSink, run

    return run(reenactor, portrait, MotionSource(name, fps, max_frames), VideoSink(Path(output)),
               crop_output=crop_output, progress=progress)
