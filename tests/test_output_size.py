"""Videos stay within what players decode: --max-size and the 4K UHD frame."""

from __future__ import annotations

import json
from dataclasses import replace

import av
import pytest

from reenactor.api import Reenactor, animate_template
from reenactor.config import ReenactorConfig
from reenactor.io.video import UHD_FRAME, fit_video_size


@pytest.mark.parametrize("size", [(4352, 2903), (2903, 4352), (4097, 2305), (8000, 100), (1001, 999), (640, 480)])
def test_fit_video_size(size):
    w, h = fit_video_size(*size, 4096)
    assert w % 2 == 0 and h % 2 == 0 and max(w, h) <= UHD_FRAME[0] and min(w, h) <= UHD_FRAME[1]
    assert max(w, h) >= UHD_FRAME[0] - 2 or min(w, h) >= UHD_FRAME[1] - 2 or (w, h) == (size[0] - size[0] % 2, size[1] - size[1] % 2)
    aspect = size[0] / size[1]
    assert abs(w / h - aspect) <= aspect * (2 / h + 2 / w)  # aspect kept up to the even rounding
    if size == (640, 480):
        assert (w, h) == size
    if size == (4352, 2903):
        assert (w, h) == (3238, 2160)
    assert max(fit_video_size(*size, 1000)) <= 1000
    assert fit_video_size(*size, 0) == (size[0] - size[0] % 2, size[1] - size[1] % 2)


def _size(path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return s.width, s.height


def test_api_video_is_capped(tmp_path, prepared):
    cfg = ReenactorConfig()
    small = Reenactor(replace(cfg, output=replace(cfg.output, max_size=256)))
    stats = animate_template(small, prepared, "blink", tmp_path / "s.mp4", max_frames=2)
    assert _size(tmp_path / "s.mp4") == (256, 256) and stats["output_size"] == [256, 256]


def test_cli_max_size(tmp_path, capsys):
    from skimage import data

    from reenactor.cli import main
    from reenactor.io.image import write_image

    write_image(tmp_path / "p.png", data.astronaut())
    for flag, want in (("256", (256, 256)), ("0", (512, 512))):
        out, stats = tmp_path / f"o{flag}.mp4", tmp_path / f"s{flag}.json"
        assert main(["animate", "-s", str(tmp_path / "p.png"), "--motion", "blink", "-o", str(out),
                     "--max-frames", "2", "--max-size", flag, "--stats", str(stats)]) == 0
        assert _size(out) == want
        record = json.loads(stats.read_text())
        assert record["output_size"] == list(want)
        assert record.get("portrait_scaled_from") == ([512, 512] if flag == "256" else None)
    err = capsys.readouterr().err
    assert "preparing the portrait" in err and "rendering at 256x256" in err


def test_a_capped_video_is_drawn_at_its_size(tmp_path, prepared, monkeypatch):
    """Above the cap the portrait is fitted once (Reenactor.fit), not every frame shrunk."""
    import reenactor.pipeline as pipeline

    cfg = ReenactorConfig()
    small = Reenactor(replace(cfg, output=replace(cfg.output, max_size=256)))
    fitted = small.fit(prepared, (256, 256))
    assert fitted.size == (256, 256) and small.fit(prepared, (256, 256)) is fitted
    assert small.fit(prepared, (511, 511)) is small.bind(prepared)  # odd sizes are cut, not resampled
    # Pixel centres kept: x' = (x + 0.5) / 2 - 0.5.
    assert fitted.landmarks[:, :2] == pytest.approx((prepared.landmarks[:, :2] + 0.5) / 2 - 0.5)
    seen = []
    real = pipeline.fit_frame
    monkeypatch.setattr(pipeline, "fit_frame", lambda frame, w, h: seen.append(frame.shape) or real(frame, w, h))
    animate_template(small, prepared, "blink", tmp_path / "s.mp4", max_frames=3)
    assert seen == [(256, 256, 3)] * 3


def test_auto_preset_by_frame_size():
    """`--preset auto`: veryfast up to QHD; above it ultrafast with CABAC and deblocking, one frame at a time."""
    from reenactor.io.video_write import LOW_MEMORY_PIXELS, encoder_options

    small = encoder_options(1920, 1080, 18, "auto")
    assert small == {"crf": "18", "preset": "veryfast"}
    large = encoder_options(3238, 2160, 18, "auto")
    assert 3238 * 2160 > LOW_MEMORY_PIXELS and large["preset"] == "ultrafast"
    params = dict(p.split("=") for p in large["x264-params"].split(":"))
    assert params["cabac"] == "1" and params["deblock"] == "0,0" and params["bframes"] == "0" and params["sliced-threads"] == "1"
    explicit = encoder_options(3238, 2160, 18, "medium")  # a chosen preset is kept, only encoded one frame at a time
    assert explicit["preset"] == "medium" and "cabac" not in explicit["x264-params"]


def test_large_video_plays_and_is_encoded_by_auto(tmp_path):
    """A frame above QHD goes through the auto settings and decodes back to what was written."""
    import numpy as np

    from reenactor.io.video import VideoWriter

    rng = np.random.default_rng(0)
    frame = np.repeat(np.repeat(rng.integers(0, 255, (68, 102, 3), np.uint8), 32, 0), 32, 1)[:2160, :3238]
    with VideoWriter(tmp_path / "big.mp4", fps=25, size=(3238, 2160)) as vw:
        for _ in range(2):
            vw.write(frame)
    with av.open(str(tmp_path / "big.mp4")) as c:
        got = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert got.shape == frame.shape and np.abs(got.astype(int) - frame).mean() < 4.0
