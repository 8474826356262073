"""Code shape (issue 15): no file under ``src/reenactor`` over 400 lines; on the runtime path, no function over 60.

The file limit holds for every source file of the package, the offline tools
included. The function limit holds for the runtime path only: everything under
``src/reenactor`` except ``eval/`` and ``train/`` (offline tools, run by hand)
and ``face/convert/`` (builds the ONNX weights; not run by users).  A function
counts from its ``def`` line to its last line, docstring included; nested
functions and methods count on their own (and inside their parent).  Also
checked here: importing the runtime modules loads neither ``eval``/``train``
nor torch nor gradio (the web app's).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "reenactor"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
#: Directories (relative to the package, with a trailing slash) outside the runtime path.
NOT_RUNTIME = ("eval/", "train/", "face/convert/")

#: Runtime files still over a limit while someone reduces them: path (relative to
#: the package) -> why. Exempts the file and its functions. Remove an entry when
#: its file passes (``test_pending_entries_are_still_needed`` says when).
PENDING: dict[str, str] = {}


def _all_files() -> list[tuple[str, Path]]:
    return [(path.relative_to(PACKAGE).as_posix(), path) for path in sorted(PACKAGE.rglob("*.py"))]


def _runtime_files() -> list[tuple[str, Path]]:
    return [(rel, path) for rel, path in _all_files() if not rel.startswith(NOT_RUNTIME)]


def _file_offence(rel: str, text: str, max_file: int) -> list[str]:
    lines = len(text.splitlines())
    return [f"{rel}: {lines} lines (limit {max_file})"] if lines > max_file else []


def _offences(rel: str, path: Path, max_file: int, max_function: int) -> list[str]:
    """One line per limit ``path`` breaks: the file's length, then each long function."""
    text = path.read_text(encoding="utf-8")
    found = _file_offence(rel, text, max_file)
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > max_function:
                found.append(f"{rel}:{node.lineno} {node.name}(): {length} lines (limit {max_function})")
    return found


def _all_offences(max_file: int = MAX_FILE_LINES, max_function: int = MAX_FUNCTION_LINES) -> dict[str, list[str]]:
    return {rel: found for rel, path in _runtime_files() if (found := _offences(rel, path, max_file, max_function))}


def test_runtime_files_and_functions_are_short():
    assert len(_runtime_files()) > 20, f"no runtime sources found under {PACKAGE}"
    offenders = [line for rel, found in _all_offences().items() if rel not in PENDING for line in found]
    assert not offenders, "over the code-shape limits (split the file / extract helpers):\n" + "\n".join(offenders)


def test_every_file_is_short():
    """The file limit holds everywhere in the package, ``eval/``, ``train/`` and ``face/convert/`` included."""
    files = _all_files()
    assert any(rel.startswith(NOT_RUNTIME) for rel, _ in files), f"no offline sources found under {PACKAGE}"
    offenders = [
        line for rel, path in files if rel not in PENDING
        for line in _file_offence(rel, path.read_text(encoding="utf-8"), MAX_FILE_LINES)
    ]
    assert not offenders, "over the file-length limit (split the file):\n" + "\n".join(offenders)


def test_pending_entries_are_still_needed():
    offences = _all_offences()
    missing = [rel for rel in PENDING if not (PACKAGE / rel).is_file()]
    assert not missing, f"PENDING names files that do not exist: {missing}"
    passing = [rel for rel in PENDING if rel not in offences]
    assert not passing, f"these files pass now; remove them from PENDING in {Path(__file__).name}: {passing}"


def test_the_check_finds_long_code():
    """The walk sees real code: with tighter limits the package has offenders of both kinds."""
    found = [line for lines in _all_offences(max_file=200, max_function=30).values() for line in lines]
    assert any("()" in line for line in found) and any("()" not in line for line in found)


def test_runtime_imports_leave_out_eval_train_torch_and_gradio():
    code = (
        "import sys; import reenactor.api, reenactor.pipeline, reenactor.cli; "
        "print(sorted({m.split('.')[0] if m.split('.')[0] in ('torch', 'gradio') else m for m in sys.modules "
        "if m.split('.')[0] in ('torch', 'gradio') or m.startswith(('reenactor.eval', 'reenactor.train'))}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", f"the runtime imports pulled in: {done.stdout.strip()}"
