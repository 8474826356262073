"""Process-wide allocator setting for the command line: keep large frame buffers on the heap.

Each rendered frame allocates and frees a few dozen numpy temporaries of
0.3-3 MB (warp maps, masks, layers). glibc serves blocks above its *dynamic*
mmap threshold (128 KiB at start, raised only after such a block is freed)
with fresh ``mmap`` pages, so every frame pays page faults for them, and how
often depends on what ran before: measured on the 512 px bench, the warp field
cost 9.7-11.1 ms a frame after the face networks had run, 8.9 ms with the
threshold fixed at 32 MiB (and the same with mediapipe's start-up
allocations, which had raised it by accident). :func:`keep_large_buffers`
fixes the threshold. It is called by the ``reenactor`` command only; a library
user may call it, or not.
"""

from __future__ import annotations

import ctypes
import sys

#: glibc ``mallopt`` parameters.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_large_buffers(mmap_threshold: int = 32 << 20, trim_threshold: int = 64 << 20) -> bool:
    """Serve allocations below ``mmap_threshold`` bytes from the heap and keep up to
    ``trim_threshold`` bytes of freed heap for reuse (glibc only).

    Returns:
        True when glibc accepted both settings; False elsewhere (macOS,
        Windows, musl), where nothing is changed.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold))) and bool(mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)))


def release_free_memory() -> bool:
    """Hand freed heap pages back to the system (glibc ``malloc_trim(0)``).

    Preparing a large portrait frees a few hundred MB of temporaries that the
    heap would otherwise keep (and count in the process's memory) while the
    frames are rendered and encoded. Returns False where there is no glibc.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return bool(trim(0))
