"""Atomic output files and output-path checks.

Every file reenactor writes goes through :func:`atomic_output`: the data is
written to a hidden temporary file next to the destination and renamed onto it
only when writing finished without error, so an interrupted or failed run never
leaves a truncated file (or clobbers an existing one) under the final name.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from reenactor.errors import OutputError

__all__ = ["atomic_output", "check_output_path"]

_MAX_NAME_ATTEMPTS = 100


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path to write to; move it onto ``path`` on success.

    The temporary file lives in the same directory as ``path`` (so the final
    :func:`os.replace` is an atomic rename on the same file system) and is
    named ``.<name>.<random>.tmp<ext>``, where ``<ext>`` is ``suffix`` if given,
    else the real extension of ``path``; keeping the extension lets
    format detection by file name (Pillow, FFmpeg) work on the temporary path.
    The file is created empty (mode 0666 minus the umask) to reserve the name;
    the caller may overwrite or replace it.

    On a clean exit of the ``with`` block the temporary file replaces ``path``
    (an existing file there is replaced atomically).  On any exception,
    including ``KeyboardInterrupt``, the temporary file is deleted, the
    exception propagates, and ``path`` is left exactly as it was.

    Raises:
        OutputError: the temporary file cannot be created in the directory of
            ``path``, or the final rename fails.
    """
    final = Path(path)
    tmp = _reserve_temp(final, final.suffix if suffix is None else suffix)
    try:
        yield tmp
    except BaseException:
        _remove_quietly(tmp)
        raise
    try:
        os.replace(tmp, final)
    except OSError as exc:
        _remove_quietly(tmp)
        raise OutputError(f"cannot write {str(final)!r}: {_reason(exc)}") from exc


def check_output_path(path: str | os.PathLike, inputs: Iterable[str | os.PathLike | None]) -> None:
    """Check, before any work is done, that an output can be written at ``path``.

    ``inputs`` are the input files of the run (``None`` entries are ignored);
    the output must not be any of them, compared by file identity (so symlinks,
    hard links and different spellings of one path are caught), or, for paths
    that do not exist yet, by resolved path.

    Raises:
        OutputError: the parent directory does not exist, is not a directory or
            is not writable; ``path`` is a directory or another non-regular file
            (a device such as ``/dev/null``, a FIFO, a socket), which an atomic
            rename would replace; or ``path`` is one of ``inputs``.
    """
    out = Path(path)
    shown = str(out)
    parent = out.parent
    if not parent.exists():
        raise OutputError(f"cannot write {shown!r}: directory {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise OutputError(f"cannot write {shown!r}: {str(parent)!r} is not a directory")
    if out.is_dir():
        raise OutputError(f"cannot write {shown!r}: it is a directory; give a file name")
    if out.exists() and not stat.S_ISREG(out.stat().st_mode):
        raise OutputError(f"cannot write {shown!r}: it exists and is not a regular file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {shown!r}: directory {str(parent)!r} is not writable")
    for inp in inputs:
        if inp is not None and _same_file(out, Path(inp)):
            raise OutputError(f"output path equals input {str(inp)!r}; choose a different output file")


def _same_file(a: Path, b: Path) -> bool:
    """True if ``a`` and ``b`` name the same file (existing or not)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _reserve_temp(final: Path, ext: str) -> Path:
    """Create an empty, uniquely named hidden file next to ``final``."""
    for _ in range(_MAX_NAME_ATTEMPTS):
        tmp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.tmp{ext}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(f"cannot write {str(final)!r}: {_reason(exc)}") from exc
        os.close(fd)
        return tmp
    raise OutputError(f"cannot write {str(final)!r}: no free temporary file name")


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _reason(exc: OSError) -> str:
    """One-line, lower-case reason for an OSError ("permission denied")."""
    text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]
