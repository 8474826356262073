"""Every Python example in README.md runs as written (in a temporary folder)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_examples():
    assert python_blocks(), "README.md lost its Python example"


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_readme_python_example_runs(index, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = python_blocks()[index]
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})
    # The example writes what it says it writes.
    for name in re.findall(r'"([\\w.]+\\.(?:mp4|png))"', code):
        if name != "portrait.jpg":
            assert (tmp_path / name).stat().st_size > 0, name


def cli_lines() -> list[str]:
    """The ``reenactor ...`` lines of README's shell blocks, comments and ``[optional]`` parts dropped."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("reenactor "):
                lines.append(re.sub(r"\s*\[[^\]]*\]", "", line))
    return lines


@pytest.fixture(scope="module")
def cli_folder(tmp_path_factory):
    """portrait.jpg, face.jpg and a short driver.mp4, the files the README's commands name."""
    from skimage import data

    from reenactor import Reenactor
    from reenactor.api import animate_template
    from reenactor.io import iter_frames, write_image

    folder = tmp_path_factory.mktemp("readme_cli")
    write_image(folder / "portrait.jpg", data.astronaut())
    r = Reenactor()
    animate_template(r, r.prepare(data.astronaut()), "talk", folder / "driver.mp4", fps=25, max_frames=25)
    write_image(folder / "face.jpg", next(iter_frames(folder / "driver.mp4")))
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("line", cli_lines())
def test_readme_command_runs(line, cli_folder):
    import shlex
    import subprocess
    import sys

    exe = Path(sys.executable).parent / "reenactor"
    args = shlex.split(line)[1:]
    done = subprocess.run([str(exe), *args, "--quiet"] if args[0] in ("animate", "demo") else [str(exe), *args],
                          cwd=cli_folder, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = args[args.index("--output") + 1] if "--output" in args else None
    if out:
        assert (cli_folder / out).stat().st_size > 0
