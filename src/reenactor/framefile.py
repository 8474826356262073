"""Per-frame arrays of a whole driver on disk, so that tracking a long video holds one frame at a time.

A :class:`FrameFile` is a temporary file of equal-shaped frames (e.g. (478, 3)
float32 landmarks), written and read with explicit, unbuffered file calls
(not a memory map: the pages read stay in the page cache, not in the
process's resident memory). It reads like a read-only array of shape
(F, *frame shape): ``len``, ``f[i]`` (a new array), slices, iteration in chunks,
``reversed``, ``np.asarray(f)`` (all of it, in memory).

A :class:`TrackStore` is the temporary directory holding a track's files. It
is removed with them by :meth:`TrackStore.close`, or when the store (and every
file in it) is garbage-collected, or at interpreter exit. On POSIX systems a
file's name is removed as soon as it is open (the open file keeps its data), so
a process killed outright leaves at most an empty directory, not gigabytes.
"""

from __future__ import annotations

import io
import operator
import os
import shutil
import tempfile
import weakref
from typing import Iterator

import numpy as np

#: Frames per read when iterating (about 1.5 MB of (478, 3) float32).
CHUNK = 256


class FrameFile:
    """Frames of one shape and dtype in a file of ``store``: frame ``i`` at byte ``i * nbytes``.

    Args:
        store: the directory it lives in (kept alive as long as the file is).
        name: file name inside it.
        shape: shape of one frame, e.g. (478, 3).
        dtype: numpy dtype of the frames.
        length: frames it holds from the start (zeros until written), so
            that they can be written in any order; more may be appended.
    """

    def __init__(self, store: "TrackStore", name: str, shape: tuple[int, ...], dtype, length: int = 0) -> None:
        self.store, self.name = store, name
        self.frame_shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.nbytes = int(np.prod(self.frame_shape)) * self.dtype.itemsize
        self.path = os.path.join(store.path, name)
        self._f = io.FileIO(self.path, "x+")
        store._files[name] = self._f
        if os.name == "posix":  # nameless from now on: a killed process leaves no frames on disk
            os.unlink(self.path)
        self._f.truncate(length * self.nbytes)
        self._n = length

    def __setitem__(self, i: int, frame: np.ndarray) -> None:
        """Write frame ``i`` (0 <= i <= len, cast to the file's dtype); writing at ``len`` appends."""
        i = operator.index(i)
        if not 0 <= i <= self._n:
            raise IndexError(f"frame {i} of a {self._n}-frame file (write in order, or over written frames)")
        data = np.ascontiguousarray(frame, dtype=self.dtype)
        if data.shape != self.frame_shape:
            raise ValueError(f"frame of shape {data.shape}, the file holds {self.frame_shape}")
        self._f.seek(i * self.nbytes)
        view = memoryview(data).cast("B")
        while len(view):
            view = view[self._f.write(view):]
        self._n = max(self._n, i + 1)

    def append(self, frame: np.ndarray) -> None:
        self[self._n] = frame

    def __len__(self) -> int:
        return self._n

    @property
    def shape(self) -> tuple[int, ...]:
        return (self._n, *self.frame_shape)

    def read(self, start: int, count: int) -> np.ndarray:
        """(count, *frame shape) frames from ``start`` (0 <= start, start + count <= len), a new array."""
        if start < 0 or count < 0 or start + count > self._n:
            raise IndexError(f"frames {start}..{start + count} of a {self._n}-frame file")
        buf = bytearray(count * self.nbytes)
        self._f.seek(start * self.nbytes)
        got = 0
        while got < len(buf):
            n = self._f.readinto(memoryview(buf)[got:])
            if not n:
                raise OSError(f"{self.path}: short read")
            got += n
        return np.frombuffer(buf, self.dtype).reshape(count, *self.frame_shape)

    def __getitem__(self, key):
        """Frame ``key`` (an int, negative from the end) as a new array; a slice, a list or
        an array of indices (or a bool mask) gives the frames stacked."""
        if isinstance(key, slice):
            key = range(*key.indices(self._n))
        elif isinstance(key, np.ndarray) and key.dtype == bool:
            key = np.flatnonzero(key)
        if isinstance(key, (range, list, np.ndarray)):
            out = np.empty((len(key), *self.frame_shape), self.dtype)
            for j, i in enumerate(key):
                out[j] = self[int(i)]
            return out
        i = operator.index(key)
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"frame {key} of a {self._n}-frame file")
        return self.read(i, 1)[0]

    def __iter__(self) -> Iterator[np.ndarray]:
        for start in range(0, self._n, CHUNK):
            yield from self.read(start, min(CHUNK, self._n - start))

    def __reversed__(self) -> Iterator[np.ndarray]:
        for stop in range(self._n, 0, -CHUNK):
            start = max(0, stop - CHUNK)
            yield from self.read(start, stop - start)[::-1]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self.read(0, self._n)
        return out if dtype is None else out.astype(dtype)

    def close(self) -> None:
        """Close and delete the file (its frames can no longer be read)."""
        self.store.discard(self.name)


class TrackStore:
    """A temporary directory (``tempfile.mkdtemp``, prefix ``reenactor-track-``) of :class:`FrameFile`.

    Removed by :meth:`close`, or when it and its files are garbage-collected.
    """

    def __init__(self) -> None:
        self.path = tempfile.mkdtemp(prefix="reenactor-track-")
        self._files: dict[str, io.FileIO] = {}
        self._finalizer = weakref.finalize(self, _remove, self.path, self._files)

    def file(self, name: str, shape: tuple[int, ...], dtype, length: int = 0) -> FrameFile:
        """A new frame file in the store (see :class:`FrameFile`)."""
        return FrameFile(self, name, shape, dtype, length)

    def discard(self, name: str) -> None:
        """Close and delete one file (nothing if it is not there)."""
        f = self._files.pop(name, None)
        if f is not None:
            f.close()
            try:
                os.unlink(os.path.join(self.path, name))
            except FileNotFoundError:
                pass

    def close(self) -> None:
        """Close every file and remove the directory (again: nothing)."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive


def _remove(path: str, files: dict[str, io.FileIO]) -> None:
    for f in files.values():
        f.close()
    files.clear()
    shutil.rmtree(path, ignore_errors=True)
