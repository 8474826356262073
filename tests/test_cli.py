"""Fast tier: the commands end to end, and every bad input's one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reenactor.cli import main
from reenactor.io.image import write_image
from reenactor.io.video import VideoWriter, iter_frames, probe_video


@pytest.fixture(scope="module")
def files(tmp_path_factory, astronaut):
    d = tmp_path_factory.mktemp("cli")
    portrait = d / "astronaut.png"
    write_image(portrait, astronaut)
    noface = d / "noface.png"
    g = np.linspace(0, 255, 256, dtype=np.uint8)
    write_image(noface, np.dstack([np.tile(g, (256, 1))] * 3))
    novideo = d / "notes.mp4"
    novideo.write_text("this is not a video\n")
    blank = d / "blank.mp4"
    rng = np.random.default_rng(0)
    with VideoWriter(blank, fps=25, size=(128, 128)) as vw:
        for _ in range(10):
            vw.write(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8))
    # A driver made by the pipeline itself: the astronaut nodding.
    driver = d / "nod.mp4"
    assert main(["animate", "--source", str(portrait), "--motion", "nod", "--output", str(driver), "--max-frames", "30", "--crop", "--quiet"]) == 0
    return {"portrait": portrait, "noface": noface, "novideo": novideo, "blank": blank, "driver": driver, "dir": d}


def _one_line_error(capsys, rc: int) -> str:
    err = capsys.readouterr().err.strip()
    assert rc != 0
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("reenactor:")]
    assert len(lines) == 1, err
    return lines[0]


def test_demo_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo.mp4"
    stats = tmp_path / "stats.json"
    assert main(["demo", "--output", str(out), "--max-frames", "25", "--stats", str(stats)]) == 0
    info = probe_video(out)
    assert (info.width, info.height) == (512, 512)
    assert info.n_frames == 25 and abs(info.fps - 25) < 1e-6
    s = json.loads(stats.read_text())
    assert s["frames"] == 25 and "warp_field" in s["ms_per_frame"]
    assert "rendering" in capsys.readouterr().err  # the progress bar


def test_animate_with_a_video_driver(files, tmp_path):
    out = tmp_path / "out.mp4"
    stats = tmp_path / "s.json"
    rc = main(["animate", "-s", str(files["portrait"]), "-d", str(files["driver"]), "-o", str(out), "--stats", str(stats), "-q"])
    assert rc == 0
    frames = list(iter_frames(out))
    assert len(frames) == 30 and frames[0].shape == (512, 512, 3)
    s = json.loads(stats.read_text())
    assert s["frames"] == 30 and s["faces_lost"] == 0 and 0 <= s["reference_frame"] < 30
    # The nod starts at rest, as the portrait is: the reference is matched to it.
    assert s["reference_rule"] == "match" and 0 <= s["reference_distance"] < 3.0
    assert set(s["ms_per_frame"]) >= {"decode", "landmarks", "retarget", "warp_field", "encode"}


def test_animate_with_a_still_driver_writes_an_image(files, tmp_path):
    from reenactor.io.image import read_image

    out = tmp_path / "out.png"
    assert main(["animate", "-s", str(files["portrait"]), "-d", str(files["portrait"]), "-o", str(out), "-q"]) == 0
    assert read_image(out).shape == (512, 512, 3)


def test_crop_output(files, tmp_path):
    out = tmp_path / "crop.mp4"
    assert main(["animate", "-s", str(files["portrait"]), "--motion", "blink", "-o", str(out), "--crop", "--max-frames", "5", "-q", "--work-size", "256"]) == 0
    info = probe_video(out)
    assert (info.width, info.height, info.n_frames) == (256, 256, 5)


@pytest.mark.parametrize(
    "case,expect",
    [
        ("missing_source", "not found"),
        ("noface_portrait", "no face found in the portrait"),
        ("not_media_driver", "not a video"),
        ("noface_driver", "no face found in any frame"),
        ("missing_driver", "not found"),
        ("output_dir_missing", "does not exist"),
        ("output_is_input", "input"),
        ("image_out_for_video", ".mp4"),
        ("face_index", "face-index"),
        ("unknown_motion", "unknown --motion"),
        ("template_and_driver", "built-in motion"),
    ],
)
def test_bad_input_gets_one_clear_line_and_writes_nothing(files, tmp_path, capsys, case, expect):
    out = tmp_path / "result.mp4"
    p, d = str(files["portrait"]), str(files["driver"])
    argv = {
        "missing_source": ["-s", str(tmp_path / "nope.jpg"), "-d", d, "-o", str(out)],
        "noface_portrait": ["-s", str(files["noface"]), "-d", d, "-o", str(out)],
        "not_media_driver": ["-s", p, "-d", str(files["novideo"]), "-o", str(out)],
        "noface_driver": ["-s", p, "-d", str(files["blank"]), "-o", str(out)],
        "missing_driver": ["-s", p, "-d", str(tmp_path / "nope.mp4"), "-o", str(out)],
        "output_dir_missing": ["-s", p, "-d", d, "-o", str(tmp_path / "no" / "dir" / "x.mp4")],
        "output_is_input": ["-s", p, "-d", d, "-o", d],
        "image_out_for_video": ["-s", p, "-d", d, "-o", str(tmp_path / "result.png")],
        "face_index": ["-s", p, "-d", d, "-o", str(out), "--face-index", "3"],
        "unknown_motion": ["-s", p, "--motion", "moonwalk", "-o", str(out)],
        "template_and_driver": ["-s", p, "-d", d, "--motion", "nod", "-o", str(out)],
    }[case]
    before = sorted(Path(tmp_path).iterdir())
    driver_bytes = files["driver"].read_bytes()
    rc = main(["animate", *argv, "-q"])
    line = _one_line_error(capsys, rc)
    assert expect.lower() in line.lower(), line
    assert sorted(Path(tmp_path).iterdir()) == before  # nothing written, no temp left
    assert files["driver"].read_bytes() == driver_bytes  # inputs untouched


def test_interrupt_leaves_no_partial_output(files, tmp_path, monkeypatch, capsys):
    import reenactor.api as api

    out = tmp_path / "out.mp4"
    real = api.Reenactor.render
    calls = {"n": 0}

    def interrupted(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 10:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(api.Reenactor, "render", interrupted)
    rc = main(["animate", "-s", str(files["portrait"]), "-d", str(files["driver"]), "-o", str(out), "-q"])
    assert rc == 130
    assert list(tmp_path.iterdir()) == []


def test_bench_portrait_sizes_compare_in_one_run(tmp_path):
    """`reenactor bench --portrait-size A,B` runs each size in its own process and compares them."""
    import json

    from reenactor.cli import main

    out = tmp_path / "b.json"
    assert main(["bench", "--portrait-size", "256,384", "--frames", "3", "--json", str(out)]) == 0
    runs = json.loads(out.read_text())["runs"]
    assert [r["portrait_size"] for r in runs] == [[256, 256], [384, 384]]
    assert all(r["first_frame_s"] > 0 and r["peak_rss_mb"] > 0 for r in runs)
