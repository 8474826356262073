"""The renderer's worker threads: one per core, at most 4, made once.

OpenCV releases the GIL in its calls, so the disjoint bands of a large
picture are resampled at the same time. Work made of many small calls (the
face raster's ~900 triangle fills, NumPy on small arrays) gains nothing: it
waits for the GIL (tried: the outer field and mirror layer beside the face
raster drew no faster at 512 px).
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
