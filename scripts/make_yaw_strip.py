"""docs/yaw_limit.jpg: a driver turning to 30, 45, 60 and 75 deg, without and with the yaw limit.

    .venv/bin/python scripts/make_yaw_strip.py [--out docs/yaw_limit.jpg]

The astronaut is driven by its own landmarks turned about the head centre
(no data folder needed). Top row: ``RetargetConfig.max_yaw = 0`` (the turn is
transferred as it is); bottom row: the default, where the portrait's turn is
eased into ``max_yaw`` (45 deg). Up to 35 deg both rows are the same picture.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from reenactor.api import Reenactor
from reenactor.face import topology as T
from reenactor.face.pose import rotation_from_euler
from reenactor.io.image import write_image
from reenactor.motion.retarget import Retargeter

from _strips import label  # scripts/_strips.py

YAWS = (30.0, 45.0, 60.0, 75.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/yaw_limit.jpg")
    args = ap.parse_args()
    r = Reenactor()
    prepared = r.prepare(data.astronaut())
    p = prepared.crop_landmarks.astype(np.float64)
    centre = p[list(T.STABLE_POINTS)].mean(0)
    rows = []
    for limit, text in ((0.0, "no limit"), (r.config.retarget.max_yaw, "default")):
        retarget = Retargeter(p, p, replace(r.config.retarget, max_yaw=limit))
        tiles = []
        for yaw in YAWS:
            driver = (p - centre) @ rotation_from_euler(yaw, 0.0, 0.0).T + centre
            out = r.render(prepared, retarget(driver), None, crop_output=True)
            tile = cv2.resize(out[64:448, 64:448], (256, 256), interpolation=cv2.INTER_AREA)
            tiles.append(label(tile, f"driver {yaw:.0f} deg, {text}"))
        rows.append(np.hstack(tiles))
    write_image(Path(args.out), np.vstack(rows))


if __name__ == "__main__":
    main()
