"""Real tier: real portraits driven by real clips from ../shared/data."""

from __future__ import annotations

import numpy as np
import pytest

from reenactor.cli import main
from reenactor.face.landmarks import LandmarkDetector
from reenactor.io.video import iter_frames, probe_video

pytestmark = pytest.mark.real

# (portrait, driver): a photo with an HDTF clip with audio, a painting with a
# GRID .mpg (mp2 audio), a full-body picture with an uncropped 22.13 fps clip.
PAIRS = [
    ("portraits/LivePortrait__s6.jpg", "videos/SadTalker__WDA_KatieHill_000.mp4"),
    ("portraits/EAMM__mona.png", "videos/LipNet__bbaf2n.mpg"),
    ("portraits/SadTalker__full_body_1.png", "videos/video-retalking__1.mp4"),
    ("portraits/deepface__img1.jpg", "videos/LIA__driving3.mov"),
]
FRAMES = 40


@pytest.mark.parametrize("portrait,driver", PAIRS, ids=[p[1].split("/")[1] for p in PAIRS])
def test_real_pair(shared_data, tmp_path, portrait, driver):
    src, drv = shared_data / portrait, shared_data / driver
    out = tmp_path / "out.mp4"
    rc = main(["animate", "-s", str(src), "-d", str(drv), "-o", str(out), "--max-frames", str(FRAMES), "-q"])
    assert rc == 0
    info_in, info_out = probe_video(drv), probe_video(out)
    assert info_out.n_frames == FRAMES
    assert abs(info_out.fps - info_in.fps) < 0.01
    assert info_out.has_audio == info_in.has_audio
    from reenactor.io.image import read_image

    img = read_image(src)
    assert (info_out.width, info_out.height) == (img.shape[1] - img.shape[1] % 2, img.shape[0] - img.shape[0] % 2)
    frames = list(iter_frames(out))
    with LandmarkDetector(static_image_mode=True) as det:
        found = [det.detect(f) is not None for f in frames[::5]]
    assert np.mean(found) >= 0.9
