"""Minimal, deterministic media reading for the evaluation suite.

The evaluation reads its inputs itself (PyAV for video, Pillow for images) so
that its frames never depend on the pipeline's own I/O code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reenactor.errors import InputError


@dataclass
class Clip:
    """Decoded frames of a video.

    Attributes:
        frames: list of ``HxWx3`` ``uint8`` RGB frames (display order).
        fps: average frame rate of the video stream (frames per second).
        has_audio: whether the container has an audio stream.
    """

    frames: list[np.ndarray]
    fps: float
    has_audio: bool


def read_video(path: str | Path, max_frames: int | None = None) -> Clip:
    """Decode the first ``max_frames`` frames of a video as RGB.

    Args:
        path: video file readable by FFmpeg (mp4, mov, mpg...).
        max_frames: stop after this many frames (None: all frames).

    Returns:
        A :class:`Clip` with at least one frame.

    Raises:
        InputError: missing/undecodable file or no video frames.
    """
    import av  # noqa: PLC0415 (slow import, only needed here)

    p = Path(path)
    if not p.is_file():
        raise InputError(f"video not found: {p}")
    frames: list[np.ndarray] = []
    try:
        with av.open(str(p)) as container:
            if not container.streams.video:
                raise InputError(f"no video stream in {p}")
            stream = container.streams.video[0]
            has_audio = len(container.streams.audio) > 0
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            fps = float(rate) if rate else 25.0
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except av.error.FFmpegError as exc:
        raise InputError(f"cannot decode {p}: {exc}") from exc
    if not frames:
        raise InputError(f"no frames decoded from {p}")
    return Clip(frames=frames, fps=fps, has_audio=has_audio)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as ``HxWx3`` ``uint8`` RGB (EXIF orientation applied, alpha dropped).

    Raises:
        InputError: missing or unreadable file.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError  # noqa: PLC0415

    p = Path(path)
    if not p.is_file():
        raise InputError(f"image not found: {p}")
    try:
        with Image.open(p) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                im = Image.alpha_composite(background, rgba)
            arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"cannot read image {p}: {exc}") from exc
    return np.ascontiguousarray(arr)
