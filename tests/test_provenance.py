"""Outputs say what they are: metadata on every file, a visible label on request."""

from __future__ import annotations

from dataclasses import replace

import av
import numpy as np
from PIL import Image

from reenactor.api import Reenactor, animate_template
from reenactor.config import ReenactorConfig
from reenactor.io.image import write_image
from reenactor.io.provenance import EXIF_IMAGE_DESCRIPTION, EXIF_SOFTWARE, provenance
from reenactor.render.watermark import watermark


def test_video_output_is_tagged_synthetic(tmp_path, prepared, reenactor):
    out = tmp_path / "t.mp4"
    animate_template(reenactor, prepared, "blink", out, max_frames=3)
    with av.open(str(out)) as c:
        assert "synthetic" in c.metadata["comment"] and "reenactor" in c.metadata["comment"]


def test_image_outputs_are_tagged(tmp_path):
    rgb = np.full((16, 16, 3), 90, np.uint8)
    write_image(tmp_path / "a.png", rgb, metadata=provenance())
    write_image(tmp_path / "a.jpg", rgb, metadata=provenance())
    png = Image.open(tmp_path / "a.png")
    assert png.text["synthetic"] == "true" and png.text["software"].startswith("reenactor")
    exif = Image.open(tmp_path / "a.jpg").getexif()
    assert "synthetic" in exif[EXIF_IMAGE_DESCRIPTION] and exif[EXIF_SOFTWARE].startswith("reenactor")


def test_watermark_touches_only_its_corner():
    rgb = np.full((300, 400, 3), 128, np.uint8)
    out = watermark(rgb)
    changed = np.any(out != rgb, axis=2)
    ys, xs = np.nonzero(changed)
    assert changed.any() and changed.mean() < 0.05
    assert xs.min() > 400 * 0.4 and ys.min() > 300 * 0.85  # bottom-right only
    assert np.array_equal(rgb, np.full((300, 400, 3), 128, np.uint8))  # input untouched


def test_watermark_option_reaches_the_frames(tmp_path, prepared):
    cfg = ReenactorConfig()
    marked = Reenactor(replace(cfg, output=replace(cfg.output, watermark=True)))
    plain, labelled = tmp_path / "plain.mp4", tmp_path / "marked.mp4"
    animate_template(Reenactor(cfg), prepared, "blink", plain, max_frames=2)
    animate_template(marked, prepared, "blink", labelled, max_frames=2)
    frames = []
    for path in (plain, labelled):
        with av.open(str(path)) as c:
            frames.append(next(c.decode(video=0)).to_ndarray(format="rgb24").astype(int))
    diff = np.abs(frames[0] - frames[1]).max(axis=2) > 40
    h, w = diff.shape
    assert diff[int(h * 0.9) :, int(w * 0.5) :].sum() > 50 and diff[: int(h * 0.8)].sum() == 0


def test_cli_watermark_flag():
    from reenactor.cli import _config, build_parser

    args = build_parser().parse_args(["demo", "--watermark"])
    assert _config(args).output.watermark
    assert not _config(build_parser().parse_args(["demo"])).output.watermark
