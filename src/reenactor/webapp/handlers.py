"""What the web app's buttons and sliders do, without Gradio (unit-testable).

Every handler takes plain values (paths of uploaded files, numbers, RGB
arrays) and returns plain values; user errors are raised as
:class:`reenactor.errors.ReenactorError` with one-line messages, which
:mod:`reenactor.webapp.app` shows in the page. Uploaded files are read from
the paths the server stored them under and never copied or written under
their names; every output goes to this object's temporary directory, which
:meth:`Handlers.close` removes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import uuid
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from reenactor.errors import InputError, NoFaceError

MB = 1024 * 1024
#: Upload limits (the server refuses larger uploads before they reach a handler).
MAX_IMAGE_BYTES = 20 * MB
MAX_VIDEO_BYTES = 50 * MB
#: "Driver" choice meaning: use the uploaded driver video.
UPLOADED = "uploaded video"
#: Edit sliders: name -> (minimum, maximum, default, label).
EDIT_SLIDERS = {
    "yaw": (-30.0, 30.0, 0.0, "turn (degrees)"),
    "pitch": (-25.0, 25.0, 0.0, "nod (degrees)"),
    "roll": (-30.0, 30.0, 0.0, "tilt (degrees)"),
    "eyes": (0.0, 1.5, 1.0, "eye opening (1 = as is)"),
    "mouth": (-1.0, 2.0, 0.0, "open the mouth"),
    "smile": (-1.0, 2.0, 0.0, "smile"),
    "corners": (-2.0, 2.0, 0.0, "mouth corners"),
    "brow": (-2.0, 2.0, 0.0, "brows"),
    "gaze_x": (-2.0, 2.0, 0.0, "gaze left/right"),
    "gaze_y": (-2.0, 2.0, 0.0, "gaze up/down"),
}


#: Driving controls of the Animate tab (``reenactor animate``'s --gain, --pose-scale and
#: --pose-offset): name -> (minimum, maximum, default, label). "gain_*" are
#: per-channel expression gains, "offset_*" head-turn offsets in degrees.
DRIVE_SLIDERS = {
    "gain_mouth": (0.0, 2.0, 1.0, "mouth gain"),
    "gain_eyes": (0.0, 2.0, 1.0, "eyes gain"),
    "gain_brows": (0.0, 2.0, 1.0, "brows gain"),
    "gain_gaze": (0.0, 2.0, 1.0, "gaze gain"),
    "pose_scale": (0.0, 2.0, 1.0, "head motion scale"),
    "offset_yaw": (-30.0, 30.0, 0.0, "turn offset (degrees)"),
    "offset_pitch": (-25.0, 25.0, 0.0, "nod offset (degrees)"),
    "offset_roll": (-30.0, 30.0, 0.0, "tilt offset (degrees)"),
}
#: Head pose modes (``--pose``): follow the driver, keep the portrait's, or auto.
POSE_CHOICES = ("auto", "driver", "portrait")


def drive_overrides(controls: dict | None) -> dict:
    """:class:`~reenactor.config.RetargetConfig` fields for the driving controls
    (``{name of DRIVE_SLIDERS or "pose": value}``; missing ones keep their defaults).

    Raises:
        InputError: an unknown control or pose mode.
    """
    controls = dict(controls or {})
    unknown = sorted(set(controls) - set(DRIVE_SLIDERS) - {"pose"})
    if unknown:
        raise InputError(f"unknown driving control(s) {', '.join(unknown)}")
    pose = controls.pop("pose", "auto")
    if pose not in POSE_CHOICES:
        raise InputError(f"unknown head pose mode {pose!r}: choose one of {', '.join(POSE_CHOICES)}")
    values = {k: round(float(controls.get(k, spec[2])), 3) for k, spec in DRIVE_SLIDERS.items()}
    return {"pose": pose, "pose_scale": values["pose_scale"],
            "gain": {k[5:]: v for k, v in values.items() if k.startswith("gain_") and v != 1.0},
            "pose_offset": {k[7:]: v for k, v in values.items() if k.startswith("offset_") and v != 0.0}}


def check_upload(path: str | os.PathLike, limit: int, what: str) -> Path:
    """The uploaded file's path, after checking it exists and is at most ``limit`` bytes."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError:
        raise InputError(f"the {what} upload is missing; upload it again") from None
    if size > limit:
        raise InputError(f"the {what} is {size / MB:.1f} MB; the limit is {limit // MB} MB")
    return p


def _digest(path: Path) -> str:
    h = hashlib.sha1()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Handlers:
    """The app's state: renderers, prepared portraits (a small cache) and the output folder.

    Args:
        work_size: the renderer's working resolution (``--work-size``).
        max_frames: the longest video rendered (frames).
        keep_results: rendered videos kept; older ones are deleted.
    """

    def __init__(self, work_size: int = 512, max_frames: int = 1500, keep_results: int = 8) -> None:
        from reenactor.config import ReenactorConfig

        cfg = ReenactorConfig()
        self.config = replace(cfg, render=replace(cfg.render, work_size=work_size))
        self.max_frames, self.keep_results = max_frames, keep_results
        self._tmp = tempfile.TemporaryDirectory(prefix="reenactor-web-")
        self.folder = Path(self._tmp.name)
        self._lock = threading.Lock()
        self._frame_lock = threading.RLock()  # previews, edits and prepare share renderers: one at a time
        self._portraits: OrderedDict[str, object] = OrderedDict()
        self._renderers: dict[tuple[float, float], object] = {}

    # ---------------------------------------------------------------- inputs
    def renderer(self, expression_gain: float = 1.0, translation_gain: float = 1.0, controls: dict | None = None):
        """A :class:`reenactor.api.Reenactor` with these retarget gains and driving controls
        (:func:`drive_overrides`; made once per combination, the last 16 kept)."""
        from reenactor.api import Reenactor

        fields = drive_overrides(controls)
        key = (round(float(expression_gain), 3), round(float(translation_gain), 3), repr(sorted(fields.items())))
        with self._lock:
            r = self._renderers.get(key)
            if r is None:
                retarget = replace(self.config.retarget, expression_gain=key[0], translation_gain=key[1], **fields)
                r = self._renderers[key] = Reenactor(replace(self.config, retarget=retarget))
                while len(self._renderers) > 16:
                    self._renderers.pop(next(iter(self._renderers)))
            return r

    def portrait(self, path: str | None):
        """The prepared portrait of an uploaded image (None: the built-in astronaut), cached by content."""
        from reenactor.io.image import read_image

        if path is None:
            key, load = "astronaut", _astronaut
        else:
            p = check_upload(path, MAX_IMAGE_BYTES, "portrait")
            key = _digest(p)
            load = lambda: read_image(p, max_side=self.config.max_image_side, what="portrait")  # noqa: E731
        with self._lock:
            if key in self._portraits:
                self._portraits.move_to_end(key)
                return self._portraits[key]
        image = _without_path(load, "portrait", path)
        with self._frame_lock:
            prepared = self.renderer().prepare(image)
        with self._lock:
            self._portraits[key] = prepared
            while len(self._portraits) > 4:
                self._portraits.popitem(last=False)
        return prepared

    # --------------------------------------------------------------- animate
    def preview(self, portrait_path, driver_path, motion: str, expression_gain: float, translation_gain: float,
                position: float, controls: dict | None = None) -> np.ndarray:
        """One frame of the animation at ``position`` (0..1 of its length), with these gains and
        driving controls (see :meth:`_preview`)."""
        with self._frame_lock:
            r = self.renderer(expression_gain, translation_gain, controls)
            return self._preview(portrait_path, driver_path, motion, r, position)

    def _preview(self, portrait_path, driver_path, motion, r, position) -> np.ndarray:
        """The preview frame, rendered by ``r``. A built-in motion goes through the driving
        controls as a render does; a driver video's frame is retargeted against the driver's
        first frame (the render picks its reference frame and smooths, so it may differ a little).
        """
        from reenactor.motion.controls import control_params
        from reenactor.motion.templates import ExpressionBasis, template

        portrait = self.portrait(portrait_path)
        bound = r.bind(portrait)
        if motion != UPLOADED:
            params = template(_motion_name(motion))
            frame = control_params(r.config.retarget, own_yaw=bound.rig.yaw)(params[round(position * (len(params) - 1))])
            return r.render(bound, ExpressionBasis(bound.rig).landmarks(frame))
        first, frame = _driver_frames(self._driver(driver_path), position, self.max_frames)
        detect = r._still_detector()
        ref, lm = (detect.detect_all(first) or [None])[0], (detect.detect_all(frame) or [None])[0]
        if ref is None or lm is None:
            raise NoFaceError("no face found in the driver's first frame or the previewed frame")
        from reenactor.motion.ldnet import make_retargeter

        target = make_retargeter(bound.crop_landmarks, ref.astype(np.float64), r.config.retarget)(lm.astype(np.float64))
        return r.render(bound, target)

    def render(self, portrait_path, driver_path, motion: str, expression_gain: float, translation_gain: float,
               max_frames: int | None = None, controls: dict | None = None) -> tuple[Path, dict]:
        """Render the video into the output folder; returns its path and the run statistics.

        The pipeline's progress bar (tqdm) is what the page's progress bar follows.
        """
        from reenactor.api import animate_file, animate_template

        from reenactor.api import Reenactor

        portrait = self.portrait(portrait_path)
        r = Reenactor(self.renderer(expression_gain, translation_gain, controls).config)  # its own: videos render beside previews
        frames = min(max_frames or self.max_frames, self.max_frames)
        self._prune()
        output = self.folder / f"result-{uuid.uuid4().hex[:12]}.mp4"
        if motion == UPLOADED:
            driver = self._driver(driver_path)
            stats = _without_path(lambda: animate_file(r, portrait, driver, output, max_frames=frames, progress=True), "driver", driver)
        else:
            stats = animate_template(r, portrait, _motion_name(motion), output, max_frames=frames, progress=True)
        return output, stats

    def _driver(self, path) -> Path:
        if path is None:
            raise InputError("upload a driver video, or choose a built-in motion")
        return check_upload(path, MAX_VIDEO_BYTES, "driver video")

    def _prune(self) -> None:
        """Delete all but the newest ``keep_results - 1`` results (a new one is about to be written)."""
        results = sorted(self.folder.glob("result-*"), key=lambda p: p.stat().st_mtime)
        for old in results[: max(0, len(results) - self.keep_results + 1)]:
            old.unlink(missing_ok=True)

    # ------------------------------------------------------------------ edit
    def edit(self, portrait_path, **values: float) -> np.ndarray:
        """The portrait with its pose and expression changed (:data:`EDIT_SLIDERS` names; see ``reenactor edit``)."""
        with self._frame_lock:
            return self._edit(portrait_path, values)

    def _edit(self, portrait_path, values: dict[str, float]) -> np.ndarray:
        """:meth:`edit`'s work."""
        from reenactor.edit import EXPRESSION_FLAGS, load_response, picture_change, requested_change
        from reenactor.motion.params import EXPRESSION_CHANNELS, edit_landmarks, load_directions, normalised_head
        from reenactor.pipeline import finish_frame

        portrait = self.portrait(portrait_path)
        r = self.renderer()
        bound = r.bind(portrait)
        directions = load_directions()
        args = SimpleNamespace(**{name: 0.0 for name in EXPRESSION_FLAGS}, yaw=0.0, pitch=0.0, roll=0.0, eyes=None)
        for name, value in values.items():
            if name not in EDIT_SLIDERS:
                raise InputError(f"unknown edit control {name!r}")
            setattr(args, name, float(value))
        if args.eyes is not None and abs(args.eyes - 1.0) < 1e-6:
            args.eyes = None
        head, _ = normalised_head(bound.crop_landmarks)
        change = requested_change(args, head, dict(zip(EXPRESSION_CHANNELS, directions.span.tolist())))
        change = picture_change(change, load_response(), head)
        frame = r.render(bound, edit_landmarks(bound.rig, directions, change), None, crop_output=False)
        return finish_frame(frame, r.config.output)

    def close(self) -> None:
        """Remove the output folder and everything in it."""
        self._tmp.cleanup()
        shutil.rmtree(self.folder, ignore_errors=True)


def _astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def _motion_name(motion: str) -> str:
    from reenactor.cli import TEMPLATE_NAMES

    if motion not in TEMPLATE_NAMES:
        raise InputError(f"unknown motion {motion!r}: choose one of {', '.join(TEMPLATE_NAMES)}")
    return motion


def _without_path(call, what: str, path):
    """``call()``, with the server's path of an upload replaced by "the uploaded <what>" in its error message."""
    from reenactor.errors import ReenactorError

    try:
        return call()
    except ReenactorError as exc:
        text, name = str(exc), str(path)
        for shown in (repr(name), f'"{name}"', name):
            text = text.replace(shown, f"the uploaded {what}")
        raise type(exc)(text) from None


def _driver_frames(path: Path, position: float, max_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """The driver's first frame and the frame at ``position`` (0..1) of its first ``max_frames``."""
    from reenactor.io.video import iter_frames, probe_video

    def read() -> list[np.ndarray]:
        info = probe_video(path, what="driver")
        total = min(info.n_frames or max_frames, max_frames)
        wanted = round(float(position) * (total - 1))
        frames = []
        for i, frame in enumerate(iter_frames(path, wanted + 1, what="driver")):
            frames = [frame] if i == 0 else [frames[0], frame]
        return frames

    frames = _without_path(read, "driver", path)
    if not frames:
        raise InputError("the driver video has no frames")
    return frames[0], frames[-1]
