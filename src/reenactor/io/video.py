"""Video input and output (PyAV / FFmpeg): the names callers import.

The code lives in three modules: :mod:`reenactor.io.video_read` (probing and
decoding: :class:`VideoInfo`, :func:`probe_video`, :func:`iter_frames`,
:func:`has_audio`), :mod:`reenactor.io.video_write` (H.264 writing:
:class:`VideoWriter`, :func:`fit_video_size`) and :mod:`reenactor.io.audio`
(the output's AAC track, taken from a source file and aligned to its first
video frame).

Frames are always ``H x W x 3`` ``uint8`` arrays, values 0..255, channel order
RGB, C-contiguous, and upright (a display rotation is applied on reading).
"""

from __future__ import annotations

from reenactor.io.video_read import VideoInfo, has_audio, iter_frames, probe_video
from reenactor.io.video_write import UHD_FRAME, VIDEO_WRITE_EXTENSIONS, VideoWriter, fit_video_size

__all__ = [
    "VideoInfo",
    "probe_video",
    "iter_frames",
    "has_audio",
    "VideoWriter",
    "VIDEO_WRITE_EXTENSIONS",
    "fit_video_size",
    "UHD_FRAME",
]
