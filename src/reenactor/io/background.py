"""Encode on a second thread while the next frame renders.

:class:`BackgroundWriter` wraps anything with ``write(frame)`` (a
:class:`~reenactor.io.video.VideoWriter`): :meth:`put` hands the frame to a
worker thread through a queue of ``depth`` frames and returns at once, so
rendering (numpy/OpenCV) and x264 encoding (PyAV releases the GIL while it
encodes) overlap on two cores. Memory stays flat: at most ``depth`` frames
wait. An error in the worker is raised again by the next :meth:`put` or by
:meth:`close`; leaving the ``with`` block on an error stops the worker
without writing the queued frames.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Callable

import numpy as np

_STOP = object()


class BackgroundWriter:
    """Write frames on a worker thread.

    Args:
        write: called with each frame, in order, on the worker thread.
        depth: most frames waiting (>= 1).
        on_written: called on the worker after each frame with the seconds
            ``write`` took (e.g. a stage timer).
    """

    def __init__(self, write: Callable[[np.ndarray], None], depth: int = 4,
                 on_written: Callable[[float], None] | None = None) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self._write = write
        self._on_written = on_written
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._abort = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reenactor-encode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._error is not None or self._abort.is_set():
                continue  # drain without writing
            try:
                t0 = time.perf_counter()
                self._write(item)
                if self._on_written is not None:
                    self._on_written(time.perf_counter() - t0)
            except BaseException as exc:  # handed to the caller's thread
                self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def put(self, frame: np.ndarray) -> None:
        """Queue one frame (waits while ``depth`` frames are queued); do not modify it afterwards."""
        self._raise()
        self._queue.put(frame)

    def close(self, abort: bool = False) -> None:
        """Wait until every queued frame is written (or, with ``abort``, dropped); re-raise a worker error."""
        if abort:
            self._abort.set()
        self._queue.put(_STOP)
        self._thread.join()
        if not abort:
            self._raise()

    def __enter__(self) -> "BackgroundWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(abort=exc_type is not None)
