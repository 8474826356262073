"""Video probing, frame decoding and H.264 writing (PyAV / FFmpeg).

Frames are always ``H x W x 3`` ``uint8`` arrays, values 0..255, channel order
RGB, C-contiguous, and upright: a rotation stored in the container's display
matrix (phone videos) is applied, as players do.  YUV is converted with the
matrix and range the stream is tagged with; untagged HD streams (width >= 1280
or height > 576) are taken as BT.709 and untagged SD as BT.601, like players.

Output videos are H.264 (libx264, yuv420p, BT.709, limited range) at a constant
frame rate, with the audio of a source file, if it has any, transcoded to AAC,
aligned to the source's first video frame and trimmed or padded to the length
of the written video.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

from reenactor.errors import InputError, OutputError
from reenactor.io.atomic import atomic_output

__all__ = ["VideoInfo", "probe_video", "iter_frames", "has_audio", "VideoWriter", "VIDEO_WRITE_EXTENSIONS"]

log = logging.getLogger(__name__)

#: Output extension -> FFmpeg muxer.
VIDEO_WRITE_EXTENSIONS: dict[str, str] = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}

# Sample rates the AAC encoder accepts; other sources are resampled to 48 kHz.
_AAC_RATES = frozenset({96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000})
_MAX_FPS = 1000.0
# Demuxers/decoders that turn text files into "video" (ANSI art, binary text).
_TEXT_DEMUXERS = frozenset({"tty", "bin", "xbin", "adf", "idf"})
_TEXT_DECODERS = frozenset({"ansi", "bintext", "xbin", "idf"})
_AVCOL_SPC_UNSPECIFIED = 2
_AVCOL_BT709 = 1  # AVCOL_SPC_BT709 = AVCOL_PRI_BT709 = AVCOL_TRC_BT709
_AVCOL_RANGE_MPEG = 1  # limited ("tv") range
_AUDIO_BLOCK = 4096  # samples per frame handed to the AAC encoder (it re-chunks to 1024)


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
    container = _open_input(path, what)
    with container:
        stream = _video_stream(container, path)
        _enable_threads(stream)
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
    container = _open_input(path, what)
    with container:
        stream = _video_stream(container, path)
        _enable_threads(stream)
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
    container = _open_input(path, what)
    with container:
        return bool(container.streams.audio)


#: H.264 level 5.1's largest frame, in 16x16 macroblocks (4096x2304 is exactly this);
#: what browsers and most hardware players decode.
H264_LEVEL51_MACROBLOCKS = 36864


def fit_video_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The largest even ``(width, height)`` of the same aspect, at most ``max_side`` on the
    longer side and at most :data:`H264_LEVEL51_MACROBLOCKS` macroblocks; ``max_side <= 0``
    only rounds down to even numbers.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"video size must be positive, got {width}x{height}")
    even = lambda v: max(2, int(v) - int(v) % 2)  # noqa: E731
    if max_side <= 0:
        return even(width), even(height)
    scale = min(1.0, max_side / max(width, height), (H264_LEVEL51_MACROBLOCKS * 256 / (width * height)) ** 0.5)
    w, h = even(width * scale), even(height * scale)
    while -(-w // 16) * -(-h // 16) > H264_LEVEL51_MACROBLOCKS:  # macroblock rounding
        scale *= 0.995
        w, h = even(width * scale), even(height * scale)
    return w, h


class VideoWriter:
    """Write RGB frames to an H.264 video, with the audio of another file muxed in.

    Use as a context manager::

        with VideoWriter(out, fps=info.fps, size=(w, h), audio_source=driver) as vw:
            for rgb in frames:
                vw.write(rgb)

    Frames are encoded with libx264 (``crf``, ``preset``; yuv420p, BT.709
    limited range, tagged as such) at a constant ``fps`` into a hidden
    temporary file next to ``path``.  On :meth:`close` (a clean exit of the
    ``with`` block) the first audio stream of ``audio_source``, if it has one,
    is decoded, resampled (:class:`av.AudioResampler`, to fltp, mono or stereo,
    the source rate if AAC supports it else 48 kHz), aligned so that the audio
    that played with the source's first video frame plays with the first
    written frame, cut or padded with silence to exactly ``frames / fps``
    seconds, encoded to AAC and muxed; then the file is renamed onto ``path``.
    If anything fails, or the ``with`` block raises, the temporary file is
    removed and ``path`` is left untouched.

    Audio is muxed after all video, so the file is not finely interleaved
    (the moov atom is moved to the front, so it plays and streams fine).
    Without ``with``, call :meth:`close` (or :meth:`abort`) yourself, or the
    hidden temporary file stays behind.

    Args:
        path: output file; ``.mp4`` (also ``.m4v``, ``.mov``, ``.mkv``).
        fps: output frame rate (float or Fraction; 29.97, 30000/1001, 22.13...).
        size: ``(width, height)`` in pixels; both must be even.
        audio_source: file whose audio to mux (e.g. the driving video), or None.
        crf: x264 constant rate factor (0..51, lower is better; 18 is visually
            lossless for most content).
        preset: x264 preset ("ultrafast" ... "veryslow").
        metadata: container tags (e.g. :func:`reenactor.io.provenance.provenance`);
            MP4/MOV keep ``comment``, ``description`` and others the muxer knows.

    Raises:
        ValueError: odd or non-positive size, bad fps or crf.
        OutputError: unsupported extension, or the output cannot be written.
        InputError: ``audio_source`` is missing or not a media file.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float | Fraction,
        size: tuple[int, int],
        audio_source: str | os.PathLike | None = None,
        crf: int = 18,
        preset: str = "veryfast",
        metadata: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        width, height = (int(v) for v in size)
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"video size must be positive and even for yuv420p, got {width}x{height}")
        if not 0 <= crf <= 51:
            raise ValueError(f"crf must be in 0..51, got {crf}")
        self.size = (width, height)
        self.rate = _as_rate(fps)
        fmt = VIDEO_WRITE_EXTENSIONS.get(self.path.suffix.lower())
        if fmt is None:
            known = ", ".join(VIDEO_WRITE_EXTENSIONS)
            raise OutputError(
                f"cannot write {str(path)!r}: unsupported video extension "
                f"{self.path.suffix or '(none)'!r} (use one of {known})"
            )
        self._audio = _plan_audio(Path(audio_source)) if audio_source is not None else None
        self._frames = 0
        self._closed = False

        self._atomic = atomic_output(self.path)
        self._tmp = self._atomic.__enter__()
        try:
            options = {"movflags": "+faststart"} if fmt in ("mp4", "mov") else {}
            self._container = av.open(str(self._tmp), mode="w", format=fmt, options=options)
            self._container.metadata.update({k: str(v) for k, v in (metadata or {}).items()})
            vs = self._container.add_stream("libx264", rate=self.rate)
            vs.width, vs.height = width, height
            vs.pix_fmt = "yuv420p"
            vs.codec_context.time_base = 1 / self.rate
            vs.codec_context.options = {"crf": str(crf), "preset": str(preset)}
            vs.codec_context.thread_count = 0  # x264 picks the thread count
            cc = vs.codec_context
            cc.colorspace = cc.color_primaries = cc.color_trc = _AVCOL_BT709
            cc.color_range = _AVCOL_RANGE_MPEG
            self._video_stream = vs
            self._audio_stream = None
            if self._audio is not None:
                stream = self._container.add_stream("aac", rate=self._audio.rate)
                stream.codec_context.layout = self._audio.layout
                stream.codec_context.format = "fltp"
                stream.codec_context.bit_rate = self._audio.bit_rate
                stream.codec_context.time_base = Fraction(1, self._audio.rate)
                self._audio_stream = stream
        except BaseException as exc:
            self._abort(exc)
            if isinstance(exc, av.FFmpegError):
                raise OutputError(f"cannot write {str(path)!r}: {_av_reason(exc)}") from exc
            raise

    # -- public API ---------------------------------------------------------

    @property
    def frames_written(self) -> int:
        """Number of frames written so far."""
        return self._frames

    @property
    def duration(self) -> float:
        """Duration in seconds of the frames written so far (frames / fps)."""
        return float(self._frames / self.rate)

    def write(self, frame: np.ndarray) -> None:
        """Encode one ``H x W x 3`` uint8 RGB frame (0..255) of exactly ``size``.

        Raises:
            ValueError: wrong shape or dtype, or the writer is closed.
            OutputError: the encoder or the file system failed.
        """
        if self._closed:
            raise ValueError("write() on a closed VideoWriter")
        width, height = self.size
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.shape != (height, width, 3):
            raise ValueError(
                f"VideoWriter expects {height}x{width}x3 uint8 RGB frames, got "
                f"shape {getattr(frame, 'shape', None)} dtype {getattr(frame, 'dtype', type(frame).__name__)}"
            )
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        vf = vf.reformat(format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG")
        vf.pts = self._frames
        try:
            for packet in self._video_stream.encode(vf):
                self._container.mux(packet)
        except av.FFmpegError as exc:
            raise OutputError(f"cannot write {str(self.path)!r}: {_av_reason(exc)}") from exc
        self._frames += 1

    def close(self) -> None:
        """Finish the video, mux the audio and move the file onto ``path``.

        Does nothing if already closed.  On failure the temporary file is
        removed and ``path`` is untouched.

        Raises:
            OutputError: no frame was written, or writing failed.
            InputError: the audio source could not be read.
        """
        if self._closed:
            return
        self._closed = True
        try:
            if self._frames == 0:
                raise OutputError(f"cannot write {str(self.path)!r}: no video frames were written")
            for packet in self._video_stream.encode(None):
                self._container.mux(packet)
            if self._audio_stream is not None:
                self._mux_audio()
            self._container.close()
        except BaseException as exc:
            self._abort(exc)
            if isinstance(exc, av.FFmpegError):
                raise OutputError(f"cannot write {str(self.path)!r}: {_av_reason(exc)}") from exc
            raise
        self._atomic.__exit__(None, None, None)

    def abort(self) -> None:
        """Stop writing and delete the temporary file; ``path`` is left untouched."""
        if not self._closed:
            self._closed = True
            self._abort(None)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
        elif not self._closed:
            self._closed = True
            self._abort(exc)

    # -- internals ----------------------------------------------------------

    def _abort(self, exc: BaseException | None) -> None:
        """Close the container quietly and remove the temporary file."""
        container = getattr(self, "_container", None)
        if container is not None:
            with contextlib.suppress(Exception):  # the file is being thrown away
                container.close()
        if exc is None:
            exc = _Aborted()
        try:
            self._atomic.__exit__(type(exc), exc, exc.__traceback__)
        except BaseException as raised:  # atomic_output re-raises exc; anything else is new
            if raised is not exc:
                raise

    def _mux_audio(self) -> None:
        plan = self._audio
        stream = self._audio_stream
        total = round(Fraction(self._frames) / self.rate * plan.rate)
        written = 0
        for block in _aligned_audio(plan, total):
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=plan.layout)
            frame.sample_rate = plan.rate
            frame.time_base = Fraction(1, plan.rate)
            frame.pts = written
            written += block.shape[1]
            for packet in stream.encode(frame):
                self._container.mux(packet)
        for packet in stream.encode(None):
            self._container.mux(packet)


class _Aborted(Exception):
    """Stands in for an exception when :meth:`VideoWriter.abort` is called."""


@dataclass(frozen=True)
class _AudioPlan:
    source: Path
    rate: int  # output sample rate
    layout: str  # "mono" or "stereo"
    channels: int
    bit_rate: int
    start: float | None  # time of the source's first video frame, None if no video


def _plan_audio(source: Path) -> _AudioPlan | None:
    """Inspect ``source``; None if it has no audio stream."""
    container = _open_input(source, "audio source")
    with container:
        if not container.streams.audio:
            log.info("%s has no audio stream; writing video without audio", source)
            return None
        cc = container.streams.audio[0].codec_context
        channels = 1 if cc.layout.nb_channels == 1 else 2
        rate = cc.sample_rate if cc.sample_rate in _AAC_RATES else 48000
        start = None
        if container.streams.video:
            stream = container.streams.video[0]
            try:
                for frame in container.decode(stream):
                    start = frame.time
                    break
            except av.FFmpegError:
                start = None
        return _AudioPlan(
            source=source,
            rate=rate,
            layout="mono" if channels == 1 else "stereo",
            channels=channels,
            bit_rate=channels * min(64000, 4 * rate),
            start=start,
        )


def _aligned_audio(plan: _AudioPlan, total: int) -> Iterator[np.ndarray]:
    """Yield float32 ``(channels, n)`` blocks, ``total`` samples in all.

    The source audio is resampled to the plan's format, shifted so that sample
    0 is the audio at the source's first video frame (leading silence if the
    audio starts later, leading samples dropped if it starts earlier), cut at
    ``total`` samples and padded with silence if it is shorter.
    """
    emitted = 0
    for block in _source_audio(plan):
        if emitted >= total:
            break
        part = block[:, : total - emitted]
        emitted += part.shape[1]
        yield np.ascontiguousarray(part, dtype=np.float32)
    while emitted < total:
        n = min(_AUDIO_BLOCK, total - emitted)
        emitted += n
        yield np.zeros((plan.channels, n), dtype=np.float32)


def _source_audio(plan: _AudioPlan) -> Iterator[np.ndarray]:
    """Resampled, start-aligned audio of ``plan.source`` as ``(channels, n)`` blocks."""
    container = _open_input(plan.source, "audio source")
    with container:
        stream = container.streams.audio[0]
        _enable_threads(stream)
        resampler = av.AudioResampler(format="fltp", layout=plan.layout, rate=plan.rate)
        skip = 0  # source samples still to drop at the start
        first = True

        def blocks(frames: list) -> Iterator[np.ndarray]:
            nonlocal skip
            for rf in frames:
                block = rf.to_ndarray()
                if skip:
                    cut = min(skip, block.shape[1])
                    block, skip = block[:, cut:], skip - cut
                if block.shape[1]:
                    yield block

        decoded = container.decode(stream)
        while True:
            try:
                frame = next(decoded)
            except StopIteration:
                break
            except av.FFmpegError as exc:
                log.warning("%s: audio stops early, the rest does not decode (%s)", plan.source, exc)
                break
            if first:
                first = False
                offset = 0.0
                if plan.start is not None and frame.time is not None:
                    offset = frame.time - plan.start
                if offset > 0:
                    yield np.zeros((plan.channels, round(offset * plan.rate)), dtype=np.float32)
                else:
                    skip = round(-offset * plan.rate)
            try:
                out = resampler.resample(frame)
            except ValueError:  # the source changed rate or layout mid-stream
                out = resampler.resample(None)
                resampler = av.AudioResampler(format="fltp", layout=plan.layout, rate=plan.rate)
                out += resampler.resample(frame)
            yield from blocks(out)
        yield from blocks(resampler.resample(None))


# ---------------------------------------------------------------------------
# helpers


def _open_input(path: str | os.PathLike, what: str):
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


def _enable_threads(stream) -> None:
    stream.thread_type = "AUTO"  # frame + slice threading
    stream.codec_context.thread_count = 0  # one per core


def _valid_rate(value) -> float | None:
    try:
        rate = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return rate if math.isfinite(rate) and 0 < rate <= _MAX_FPS else None


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


def _as_rate(fps: float | Fraction) -> Fraction:
    """``fps`` as an exact Fraction (22.13 -> 2213/100, 29.97 -> 2997/100)."""
    try:
        rate = Fraction(fps).limit_denominator(1001 * 1000)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"fps must be a positive number, got {fps!r}") from exc
    if not 0 < rate <= _MAX_FPS:
        raise ValueError(f"fps must be in (0, {_MAX_FPS:g}], got {fps!r}")
    return rate


def _av_reason(exc: av.FFmpegError) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(text.split())
