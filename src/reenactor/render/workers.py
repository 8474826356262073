"""The renderer's worker threads: one per core, at most 4, made once.

OpenCV and most of NumPy release the GIL, so disjoint parts of a frame (the
bands of a large picture, the outer field beside the face raster) are drawn
at the same time.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

_POOL: ThreadPoolExecutor | None = None


def worker_pool() -> ThreadPoolExecutor:
    """The shared pool (made on first use)."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)), thread_name_prefix="reenactor-render")
    return _POOL
