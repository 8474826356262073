"""Memory figures of an evaluation run: the peak RSS while a method runs and the process-wide peak.

Used by :mod:`reenactor.eval.runner` (which re-exports these names; the
figures are described in its module docstring). Linux: ``/proc/self/statm``,
``getrusage`` and glibc's ``malloc_trim``; elsewhere the figures are None or
the calls no-ops.
"""

from __future__ import annotations

import ctypes
import gc
import os
import resource
import threading


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class PeakRSS:
    """Context manager sampling the process RSS every ``interval`` seconds.

    Attributes after exit: ``start_mb``, ``peak_mb`` (MiB; None where
    ``/proc/self/statm`` is unavailable).
    """

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.start_mb: float | None = None
        self.peak_mb: float | None = None
        self._peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        v = _rss_bytes()
        if v is not None and v > self._peak:
            self._peak = v

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> "PeakRSS":
        v = _rss_bytes()
        if v is None:
            return self
        self._peak = v
        self.start_mb = v / 2**20
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._sample()
        self.peak_mb = self._peak / 2**20


def release_free_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc ``malloc_trim``).

    Called before each method so that its RSS rise does not depend on what
    the previous method left in the allocator's free lists. A no-op where
    glibc is not available.
    """
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def max_rss_mb() -> float:
    """Process-wide peak RSS so far (``ru_maxrss``, KiB on Linux) in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
