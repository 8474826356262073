"""Media for the web app tests: a short driver clip of the astronaut and the same clip as a
Y4M file for Chromium's fake webcam (``--use-file-for-fake-video-capture``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_driver(folder: Path, frames: int = 15) -> Path:
    """A ``talk`` clip of the astronaut's face crop (256 px, 25 fps), as ``driver.mp4``."""
    from skimage import data

    from reenactor.api import Reenactor, animate_template

    r = Reenactor()
    path = folder / "driver.mp4"
    animate_template(r, r.prepare(data.astronaut()), "talk", path, max_frames=frames, crop_output=True)
    return path


def write_y4m(frames: list[np.ndarray], path: Path, fps: int = 25) -> Path:
    """Write RGB frames as an uncompressed YUV4MPEG2 (4:2:0) file: a text header, then
    ``FRAME\\n`` and the Y, U, V planes of each frame."""
    import cv2

    h, w = frames[0].shape[:2]
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            f.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path
