"""The docs figures (reenactor.figures): tile helpers, the registry, the command, one real figure."""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reenactor.cli import main
from reenactor.errors import InputError
from reenactor.figures import registry, tiles

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _decode(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(np.int16)


# -- tiles ---------------------------------------------------------------------------------


def test_label_draws_white_on_black_near_its_origin_and_leaves_the_input():
    tile = np.full((40, 120, 3), 128, np.uint8)
    out = tiles.label(tile, "abc", (6, 18))
    assert (tile == 128).all() and out.shape == tile.shape and out.dtype == np.uint8
    changed = np.argwhere((out != 128).any(2))
    assert changed.size and changed[:, 0].max() < 24 and changed[:, 1].max() < 60
    assert out.min(2).max() > 200 and out.max(2).min() < 40  # white text, black outline


def test_fit_tile_letterboxes_on_white():
    image = np.zeros((50, 100, 3), np.uint8)
    out = tiles.fit_tile(image, 32)
    assert out.shape == (32, 32, 3)
    assert (out[:8] == 255).all() and (out[-8:] == 255).all()
    assert (out[9:23] == 0).all()


def test_stack_rows_puts_white_gaps_between_rows_and_refuses_ragged_rows():
    a, b = np.zeros((3, 5, 3), np.uint8), np.ones((2, 5, 3), np.uint8)
    out = tiles.stack_rows([a, b], gap=4)
    assert out.shape == (9, 5, 3) and (out[3:7] == 255).all() and (out[7:] == 1).all()
    with pytest.raises(ValueError):
        tiles.stack_rows([a, np.zeros((3, 6, 3), np.uint8)])
    with pytest.raises(ValueError):
        tiles.stack_rows([])


def test_spaced_peaks_keeps_apart_skips_and_stops_at_non_finite():
    score = np.array([0.0, 9.0, 8.5, 1.0, 0.5, 0.2, 7.0, 6.0, -np.inf, 5.0])
    assert tiles.spaced_peaks(score, 3, min_gap=5) == [1, 6]
    assert tiles.spaced_peaks(score, 2, min_gap=2, skip=1) == [2, 6]
    assert tiles.spaced_peaks(np.array([3.0, np.nan, 5.0]), 5, min_gap=1) == [2, 0]


def test_mouth_crop_centres_the_lips_at_two_point_two_mouth_widths():
    from reenactor.face import topology as T

    lm = np.zeros((478, 3))
    lm[:, :2] = (300.0, 200.0)
    lm[T.MOUTH_CORNERS[0], :2], lm[T.MOUTH_CORNERS[1], :2] = (250.0, 200.0), (350.0, 200.0)
    image = np.zeros((400, 600, 3), np.uint8)
    image[198:203, 248:253] = 255  # 5 px dots on the mouth corners
    image[198:203, 348:353] = 255
    out = tiles.mouth_crop(image, lm, (220, 100), T.OUTER_LIP_LOOP)
    assert out.shape == (100, 220, 3)
    ys, xs = np.nonzero(out[..., 0] > 127)
    assert abs(ys.mean() - 50) < 1
    # 2.2 mouth widths across 220 px: scale 1, the corners 50 px either side of the centre
    assert abs(xs[xs < 110].mean() - 60) < 1 and abs(xs[xs > 110].mean() - 160) < 1


def test_write_picture_is_atomic_and_round_trips(tmp_path):
    image = np.zeros((16, 24, 3), np.uint8)
    image[:, 12:] = (200, 40, 90)
    path = tiles.write_picture(tmp_path / "sub" / "a.jpg", image, quality=95)
    assert np.abs(_decode(path) - image).mean() < 3
    assert tiles.write_picture(tmp_path / "b.png", image).read_bytes().startswith(b"\x89PNG")
    assert (_decode(tmp_path / "b.png") == image).all()
    before = path.read_bytes()
    with pytest.raises(ValueError):
        tiles.write_picture(path, image.astype(np.float32))
    with pytest.raises(ValueError):
        tiles.write_picture(tmp_path / "c.gif", image)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.jpg", "b.png"]


# -- registry ------------------------------------------------------------------------------


def test_registry_names_and_outputs_are_unique_and_under_docs():
    names = registry.figure_names()
    outputs = [f.output for f in registry.FIGURES]
    assert len(set(names)) == len(names) and len(set(outputs)) == len(outputs)
    for f in registry.FIGURES:
        out = Path(f.output)
        assert not out.is_absolute() and ".." not in out.parts and out.suffix in (".jpg", ".png"), f
        assert (DOCS / out).resolve().is_relative_to(DOCS.resolve())
        module, function = f.maker.split(":")
        assert callable(getattr(__import__(module, fromlist=[function]), function)), f.maker


def test_every_picture_under_docs_has_one_documented_maker():
    pictures = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*") if p.suffix.lower() in (".jpg", ".png"))
    made = {f.output for f in registry.FIGURES}
    for rel in pictures:
        elsewhere = [cmd for pattern, cmd, _ in registry.MADE_ELSEWHERE if fnmatch.fnmatch(rel, pattern) and rel.count("/") == pattern.count("/")]
        assert (rel in made) + len(elsewhere) == 1, f"docs/{rel}: made by {[rel in made, *elsewhere]}"
    assert made <= set(pictures), "a registered figure is not committed under docs/"


def test_docs_name_no_missing_script():
    for doc in [ROOT / "README.md", *DOCS.glob("*.md")]:
        # `git show REV:scripts/x.py` names a script of the history, not of the checkout.
        for script in re.findall(r"(?<![\w:/])scripts/[\w.]+\.(?:py|sh)", doc.read_text()):
            assert (ROOT / script).is_file(), f"{doc.name} names {script}, which does not exist"


def test_select_refuses_unknown_names_and_keeps_registry_order():
    assert [f.name for f in registry.select(["wink", "strip"])] == ["strip", "wink"]
    assert registry.select([]) == list(registry.FIGURES)
    with pytest.raises(InputError, match="unknown figure 'nope'"):
        registry.select(["nope"])


def test_figures_stay_out_of_the_runtime_and_parser_imports_no_maker():
    code = (
        "import sys; import reenactor.api, reenactor.pipeline; from reenactor.cli import build_parser; "
        "a = [m for m in sys.modules if m.startswith('reenactor.figures')]; build_parser(); "
        "b = [m for m in sys.modules if m.startswith('reenactor.figures')]; print(a, sorted(b))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[] ['reenactor.figures', 'reenactor.figures.cli', 'reenactor.figures.registry']"


# -- figures and the command ---------------------------------------------------------------


def test_demo_strip_at_reduced_size():
    from reenactor.figures.overview import demo_strip

    out = demo_strip(tile=64, columns=3)
    assert out.shape == (64, 192, 3) and out.dtype == np.uint8
    tiles_ = out.reshape(64, 3, 64, 3).transpose(1, 0, 2, 3)
    assert all(t.std() > 20 for t in tiles_)  # a face in every tile
    assert np.abs(tiles_[0].astype(int) - tiles_[2]).mean() > 2  # the motion moves it


def test_command_writes_the_no_data_figures(tmp_path, capsys):
    assert main(["figures", "demo_strip", "mouth_curve", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "wrote" in err and "demo_strip.jpg" in err
    new = _decode(tmp_path / "demo_strip.jpg")
    assert new.shape == _decode(DOCS / "demo_strip.jpg").shape
    assert np.abs(new - _decode(DOCS / "demo_strip.jpg")).mean() < 6
    assert (_decode(tmp_path / "mouth" / "val_curve.png").shape) == _decode(DOCS / "mouth" / "val_curve.png").shape


def test_command_without_data_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    import reenactor.bench

    monkeypatch.delenv("REENACTOR_DATA", raising=False)
    monkeypatch.setattr(reenactor.bench, "find_shared_data", lambda: None)
    assert main(["figures", "demo_strip", "strip", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("reenactor: error: ../shared/data not found (strip read") and err.count("\n") == 1
    assert not any(tmp_path.iterdir())
    assert main(["figures", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown figure 'nope'" in capsys.readouterr().err


def test_command_list_names_every_figure_and_the_other_makers(capsys):
    assert main(["figures", "--list"]) == 0
    out = capsys.readouterr().out
    for f in registry.FIGURES:
        assert re.search(rf"^{f.name}\s+docs/{re.escape(f.output)}\s", out, re.M), f.name
    assert "scripts/make_benchmarks.sh" in out and "scripts/make_ldnet_doc.sh" in out


@pytest.mark.real
@pytest.mark.slow
def test_wink_figure_from_real_clips_matches_the_committed_picture(shared_data, tmp_path):
    """Same frames, rows and crops as docs/wink.jpg (renderer changes since it was made move pixels a little)."""
    path = registry.make_figure(registry.select(["wink"])[0], tmp_path, shared_data)
    new, old = _decode(path), _decode(DOCS / "wink.jpg")
    assert new.shape == old.shape == (213 * 6, 960, 3)
    assert np.abs(new - old).mean() < 6
    assert np.abs(new[:213] - old[:213]).mean() < 2  # the driver row: the same two frames
