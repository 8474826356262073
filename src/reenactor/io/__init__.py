"""Media input/output: still images, videos, atomic output files.

Every image or frame crossing this package is an ``H x W x 3`` ``uint8``
array, values 0..255, channel order RGB, C-contiguous.  Problems the user can
fix raise :class:`reenactor.errors.InputError` or
:class:`reenactor.errors.OutputError` with a one-line message.
"""

from reenactor.io.atomic import atomic_output, check_output_path
from reenactor.io.image import is_image_path, read_image, write_image
from reenactor.io.video import VideoInfo, VideoWriter, has_audio, iter_frames, probe_video

__all__ = [
    "atomic_output",
    "check_output_path",
    "read_image",
    "write_image",
    "is_image_path",
    "VideoInfo",
    "probe_video",
    "iter_frames",
    "has_audio",
    "VideoWriter",
]
