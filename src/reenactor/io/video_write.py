"""H.264 video writing: :class:`VideoWriter` and :func:`fit_video_size`.

Output videos are H.264 (libx264, yuv420p, limited range; BT.709 primaries and
transfer with the BT.601 YUV matrix, tagged as such: OpenCV's converter for it
costs 2 ms at 9 megapixels where FFmpeg's BT.709 one costs 26-46) at a constant
frame rate, with the audio of a source file, if it has any, transcoded to AAC,
aligned to the source's first video frame and trimmed or padded to the length
of the written video (:mod:`reenactor.io.audio`).  Frames written are
``H x W x 3`` ``uint8`` RGB arrays, values 0..255.  Callers import these names
from :mod:`reenactor.io.video`.
"""

from __future__ import annotations

import contextlib
import os
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np

from reenactor.errors import OutputError
from reenactor.io.atomic import atomic_output
from reenactor.io.audio import add_audio_stream, mux_audio, plan_audio
from reenactor.io.video_read import MAX_FPS

__all__ = ["VideoWriter", "VIDEO_WRITE_EXTENSIONS", "fit_video_size", "UHD_FRAME"]

#: Output extension -> FFmpeg muxer.
VIDEO_WRITE_EXTENSIONS: dict[str, str] = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}

_AVCOL_BT709 = 1  # AVCOL_PRI_BT709 = AVCOL_TRC_BT709
_AVCOL_SPC_SMPTE170M = 6  # the BT.601 YUV matrix (what cv2.COLOR_RGB2YUV_I420 computes)
_AVCOL_RANGE_MPEG = 1  # limited ("tv") range

#: The largest video frame, (long side, short side) in either orientation: 4K UHD,
#: 3840x2160 or 2160x3840, which hardware decoders and browsers play (H.264 level
#: 5.1 allows 4096x2304, but many hardware decoders list 3840x2160 as their largest frame;
#: not tested here on any device).
UHD_FRAME = (3840, 2160)


def fit_video_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The largest even ``(width, height)`` of the same aspect with the longer side at most
    ``max_side`` and inside the 4K UHD frame (:data:`UHD_FRAME`, in the picture's own
    orientation); ``max_side <= 0`` only rounds down to even numbers (no cap at all).
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"video size must be positive, got {width}x{height}")
    even = lambda v: max(2, int(v) - int(v) % 2)  # noqa: E731
    if max_side <= 0:
        return even(width), even(height)
    long_side, short_side = max(width, height), min(width, height)
    scale = min(1.0, max_side / long_side, UHD_FRAME[0] / long_side, UHD_FRAME[1] / short_side)
    return even(width * scale + 1e-9), even(height * scale + 1e-9)


#: Frames with more pixels than this (QHD, 2560x1440) are encoded one at a time:
#: x264's B-frames, look-ahead and frame threads hold ~20 frames, 530 MB at
#: 4000x2668 (measured, veryfast), against 260 MB with this setting (x264's own
#: "zerolatency" choices), for files ~1.3-4x larger at the same crf. A 3238x2160
#: video took a peak of 930 MB in ``reenactor bench`` with frame threads, 600 MB
#: without.
LOW_MEMORY_PIXELS = 2560 * 1440
_LOW_MEMORY = "bframes=0:rc-lookahead=0:sync-lookahead=0:sliced-threads=1:mbtree=0"
#: The ``"auto"`` preset above :data:`LOW_MEMORY_PIXELS`: x264's ultrafast analysis with
#: CABAC and the deblocking filter kept. On 30 rendered 3742x2496 frames (medians of
#: three runs, 2 cores) it took 49 ms of CPU a frame against veryfast's 65 (with the
#: low-memory settings), for files 30 % larger and 0.8 dB lower PSNR (43.2 against
#: 43.9 dB at crf 18); side by side at full size the two show no difference.
#: Plain ultrafast saved 5 ms more for files 49 % larger.
_AUTO_LARGE = "cabac=1:deblock=0,0"


def encoder_options(width: int, height: int, crf: int, preset: str) -> dict[str, str]:
    """libx264 options of a ``width`` x ``height`` video.

    ``preset`` "auto" is veryfast up to :data:`LOW_MEMORY_PIXELS` and
    ultrafast with CABAC and deblocking above it (:data:`_AUTO_LARGE`); any other
    x264 preset is used as it is. Above :data:`LOW_MEMORY_PIXELS` frames are
    encoded one at a time.
    """
    large = width * height > LOW_MEMORY_PIXELS
    if preset == "auto":
        preset = "ultrafast" if large else "veryfast"
    options = {"crf": str(crf), "preset": str(preset)}
    if large:
        options["x264-params"] = _LOW_MEMORY + (":" + _AUTO_LARGE if preset == "ultrafast" else "")
    return options


class VideoWriter:
    """Write RGB frames to an H.264 video, with the audio of another file muxed in.

    Use as a context manager::

        with VideoWriter(out, fps=info.fps, size=(w, h), audio_source=driver) as vw:
            for rgb in frames:
                vw.write(rgb)

    Frames are encoded with libx264 (``crf``, ``preset``; yuv420p, BT.601
    matrix with BT.709 primaries and transfer, limited range, tagged as such) at a constant ``fps`` into a hidden
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
        preset: x264 preset ("ultrafast" ... "veryslow"), or "auto": veryfast,
            and a faster analysis above :data:`LOW_MEMORY_PIXELS`, where frames
            are also encoded without B-frames or look-ahead (:func:`encoder_options`).
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
        preset: str = "auto",
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
        self._audio = plan_audio(Path(audio_source)) if audio_source is not None else None
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
            vs.codec_context.options = encoder_options(width, height, crf, preset)
            vs.codec_context.thread_count = 0  # x264 picks the thread count
            cc = vs.codec_context
            cc.color_primaries = cc.color_trc = _AVCOL_BT709
            cc.colorspace = _AVCOL_SPC_SMPTE170M
            cc.color_range = _AVCOL_RANGE_MPEG
            self._video_stream = vs
            self._audio_stream = None
            if self._audio is not None:
                self._audio_stream = add_audio_stream(self._container, self._audio)
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
        # BT.601 limited range, chroma averaged over 2x2 pixels (the stream is tagged so).
        vf = av.VideoFrame.from_ndarray(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420), format="yuv420p")
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
                total = round(Fraction(self._frames) / self.rate * self._audio.rate)
                mux_audio(self._container, self._audio_stream, self._audio, total)
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


class _Aborted(Exception):
    """Stands in for an exception when :meth:`VideoWriter.abort` is called."""


def _as_rate(fps: float | Fraction) -> Fraction:
    """``fps`` as an exact Fraction (22.13 -> 2213/100, 29.97 -> 2997/100)."""
    try:
        rate = Fraction(fps).limit_denominator(1001 * 1000)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"fps must be a positive number, got {fps!r}") from exc
    if not 0 < rate <= MAX_FPS:
        raise ValueError(f"fps must be in (0, {MAX_FPS:g}], got {fps!r}")
    return rate


def _av_reason(exc: av.FFmpegError) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(text.split())
