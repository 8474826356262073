"""Video probing and frame decoding (PyAV / FFmpeg).

Frames are always ``H x W x 3`` ``uint8`` arrays, values 0..255, channel order
RGB, C-contiguous, and upright: a rotation stored in the container's display
matrix (phone videos) is applied, as players do.  YUV is converted with the
matrix and range the stream is tagged with; untagged HD streams (width >= 1280
or height > 576) are taken as BT.709 and untagged SD as BT.601, like players.

Also the opening helpers the audio side shares (:func:`open_input`,
:func:`enable_threads`).  Callers import these names from
:mod:`reenactor.io.video`.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from reenactor.errors import InputError

__all__ = ["VideoInfo", "probe_video", "iter_frames", "has_audio", "open_input", "enable_threads", "MAX_FPS"]

log = logging.getLogger(__name__)

#: Highest frame rate read or written (frames per second).
MAX_FPS = 1000.0
# Demuxers/decoders that turn text files into "video" (ANSI art, binary text).
_TEXT_DEMUXERS = frozenset({"tty", "bin", "xbin", "adf", "idf"})
_TEXT_DECODERS = frozenset({"ansi", "bintext", "xbin", "idf"})
_AVCOL_SPC_UNSPECIFIED = 2


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` found out about a video file.

    ``width`` x ``height`` is the size of the frames :func:`iter_frames`
    yields (after the display rotation).  ``fps`` is the average frame rate
    (also for variable-frame-rate files).  ``n_frames`` is the frame count the
    container declares (None when it does not say, e.g. MPEG program streams);
    ``duration`` is in seconds (None when unknown).  ``codec`` is the FFmpeg
    decoder name ("h264", "mpeg1video", ...).  ``rotation`` is the
    counter-clockwise display rotation in degrees (0, 90, 180, 270) that
    :func:`iter_frames` applies.
    """

    width: int
    height: int
    fps: float
    n_frames: int | None
    duration: float | None
    has_audio: bool
    codec: str
    rotation: int = 0


def probe_video(path: str | os.PathLike, *, what: str = "video") -> VideoInfo:
    """Describe the first video stream of ``path``; see :class:`VideoInfo`.

    The first frame is decoded, so a file that opens but cannot be decoded is
    rejected here rather than later.

    Args:
        path: video file (anything FFmpeg reads: mp4, mov, mkv, webm, mpg, avi...).
        what: what the file is, for error messages ("driving video").

    Raises:
        InputError: missing or unreadable file, not a video PyAV can decode,
            no video stream, or no frame rate can be determined.
    """
    container = open_input(path, what)
    with container:
        stream = _video_stream(container, path)
        enable_threads(stream)
        duration = _stream_duration(container, stream)
        n_frames = int(stream.frames) if stream.frames and stream.frames > 0 else None
        fps = _stream_fps(stream, n_frames, duration)
        if fps is None:
            raise InputError(f"cannot read {what} {str(path)!r}: cannot determine its frame rate")
        try:
            first = next(container.decode(stream), None)
        except av.FFmpegError as exc:
            raise _not_decodable(path) from exc
        if first is None:
            raise InputError(f"cannot read {what} {str(path)!r}: it contains no video frames")
        steps = _rotation_steps(first)
        width, height = first.width, first.height
        if steps % 2:
            width, height = height, width
        return VideoInfo(
            width=width,
            height=height,
            fps=fps,
            n_frames=n_frames,
            duration=duration,
            has_audio=bool(container.streams.audio),
            codec=stream.codec_context.name,
            rotation=90 * steps,
        )


def iter_frames(path: str | os.PathLike, max_frames: int | None = None, *, what: str = "video") -> Iterator[np.ndarray]:
    """Yield the frames of the first video stream of ``path``, in display order.

    Each frame is a fresh ``H x W x 3`` uint8 RGB array (0..255, C-contiguous),
    upright (display rotation applied); all frames have the size of the first
    one.  Every decoded frame is yielded once, with no frame-rate conversion
    (a variable-frame-rate file gives its frames as they are).  Decoding is
    multi-threaded.  This is a generator: the file is opened, and errors are
    raised, on the first ``next()``; closing the generator closes the file.

    If the data turns corrupt or truncated after at least one good frame,
    iteration stops after the last good frame (a warning is logged).

    Args:
        path: video file.
        max_frames: stop after this many frames (None: all).
        what: what the file is, for error messages.

    Raises:
        InputError: missing or unreadable file, not a decodable video, or no
            frame could be decoded.
        ValueError: ``max_frames`` is negative.
    """
    if max_frames is not None and max_frames < 0:
        raise ValueError(f"max_frames must be >= 0, got {max_frames}")
    if max_frames == 0:
        return
    container = open_input(path, what)
    with container:
        stream = _video_stream(container, path)
        enable_threads(stream)
        decoded = container.decode(stream)
        count = 0
        size = None
        steps = 0
        matrix = None
        while max_frames is None or count < max_frames:
            try:
                frame = next(decoded)
            except StopIteration:
                break
            except av.FFmpegError as exc:
                if count == 0:
                    raise _not_decodable(path) from exc
                log.warning("%s: stopping after frame %d, the rest does not decode (%s)", path, count, exc)
                break
            if size is None:
                size = (frame.width, frame.height)
                steps = _rotation_steps(frame)
                matrix = _guess_matrix(frame)
            rgb = frame.to_ndarray(format="rgb24", width=size[0], height=size[1], src_colorspace=matrix)
            if steps:
                rgb = np.rot90(rgb, k=steps)
            count += 1
            yield np.ascontiguousarray(rgb)
        if count == 0:
            raise InputError(f"cannot read {what} {str(path)!r}: no video frame could be decoded")


def has_audio(path: str | os.PathLike, *, what: str = "file") -> bool:
    """True if ``path`` has at least one audio stream (video files or audio-only files).

    Raises:
        InputError: missing or unreadable file, or not a media file PyAV opens.
    """
    container = open_input(path, what)
    with container:
        return bool(container.streams.audio)


# ---------------------------------------------------------------------------
# helpers


def open_input(path: str | os.PathLike, what: str):
    """Open ``path`` for reading with PyAV, or raise a one-line InputError."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"cannot read {what} {str(path)!r}: file not found")
    if p.is_dir():
        raise InputError(f"cannot read {what} {str(path)!r}: it is a directory, not a file")
    if not p.is_file():  # a FIFO or device would block or never end
        raise InputError(f"cannot read {what} {str(path)!r}: not a regular file")
    if not os.access(p, os.R_OK):
        raise InputError(f"cannot read {what} {str(path)!r}: permission denied")
    try:
        return av.open(str(p), mode="r")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise _not_decodable(path) from exc


def _not_decodable(path: str | os.PathLike) -> InputError:
    return InputError(f"{str(path)!r} is not a video PyAV can decode")


def _video_stream(container, path: str | os.PathLike):
    if not container.streams.video:
        raise InputError(f"{str(path)!r} is not a video PyAV can decode (it has no video stream)")
    stream = container.streams.video[0]
    # FFmpeg renders any text file as "video" through its ANSI-art demuxer.
    if container.format.name in _TEXT_DEMUXERS or stream.codec_context.name in _TEXT_DECODERS:
        raise _not_decodable(path)
    return stream


def enable_threads(stream) -> None:
    stream.thread_type = "AUTO"  # frame + slice threading
    stream.codec_context.thread_count = 0  # one per core


def _valid_rate(value) -> float | None:
    try:
        rate = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return rate if math.isfinite(rate) and 0 < rate <= MAX_FPS else None


def _stream_fps(stream, n_frames: int | None, duration: float | None) -> float | None:
    """Average frame rate: average_rate, else guessed_rate, base_rate, frames/duration."""
    for candidate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        rate = _valid_rate(candidate)
        if rate is not None:
            return rate
    if n_frames and duration:
        return _valid_rate(n_frames / duration)
    return None


def _stream_duration(container, stream) -> float | None:
    if stream.duration is not None and stream.duration > 0 and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return None


def _guess_matrix(frame) -> str | None:
    """YUV matrix for a frame that does not say: BT.709 for HD, else FFmpeg's BT.601.

    Players (mpv, browsers) make the same guess; None keeps the frame's own tag.
    """
    if frame.colorspace != _AVCOL_SPC_UNSPECIFIED or frame.format.name.startswith(("rgb", "bgr", "gbr", "gray")):
        return None
    return "ITU709" if frame.width >= 1280 or frame.height > 576 else None


def _rotation_steps(frame) -> int:
    """Counter-clockwise quarter turns that make ``frame`` upright (0..3)."""
    try:
        degrees = frame.rotation
    except Exception:  # noqa: BLE001 - no or malformed display matrix
        return 0
    if not degrees or not math.isfinite(degrees):
        return 0
    return round(degrees / 90) % 4
