"""Inner-mouth score of the self protocol: L1 and SSIM inside the true inner lips.

In self-reenactment the ground-truth frame shows what the open mouth really
looks like. This module scores only the inside of the ground truth's inner-lip
contour (dlib points 60..67), on frames where the true mouth is open (mean
inner-lip gap at least :data:`MIN_OPENING` inter-ocular distances), so the
inner-mouth modes (``--mouth learned|fdgan|synthetic``) can be compared on what
they paint. The driver's own mouth (``--mouth driver``) is excluded from such
comparisons by the caller: in self-reenactment the driver *is* the answer.

Both frames are cut to the same square around the true inner lips (side
:data:`BOX_SCALE` mouth widths, resampled to :data:`SIZE` pixels), the
polygon is filled in that crop, and

* ``mouth_l1``: mean absolute RGB difference inside it, 0..1;
* ``mouth_ssim``: the mean of skimage's SSIM map (7x7 window, RGB) inside it;
* ``mouth_contrast``: the standard deviation of the grey level (BT.601 luma)
  inside it, the output's over the truth's (NaN where the truth's is below
  :data:`MIN_SPREAD` grey levels). 1 is the truth's contrast: teeth against
  a dark cavity. L1 and SSIM favour a painter that hedges between teeth and
  no teeth with a flat, lip-coloured fill (below 1); this ratio shows it.
  It is not a quality score alone: noise raises it too.

Images are ``HxWx3`` uint8 RGB of the same size; landmarks ``(68, 2)`` pixel xy.
"""

from __future__ import annotations

import cv2
import numpy as np

from reenactor.eval import metrics as M
from reenactor.eval.imageops import crop_points, crop_square, fit_box

#: Frames whose true inner-lip gap is below this (IOD) are not scored.
MIN_OPENING = 0.10
#: Crop side in mouth widths (outer corners 48-54).
BOX_SCALE = 1.5
#: Crop side in pixels.
SIZE = 128
INNER_LIPS = tuple(range(60, 68))
#: Truths whose inner-mouth grey spread is below this (grey levels) get no contrast ratio.
MIN_SPREAD = 4.0
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def inner_mouth_scores(out: np.ndarray, gt: np.ndarray, gt_lm: np.ndarray) -> dict[str, float] | None:
    """``{"mouth_l1", "mouth_ssim", "mouth_contrast"}`` of ``out`` against ``gt``, or None when the true mouth is closed.

    Args:
        out, gt: ``HxWx3`` uint8 RGB, same size.
        gt_lm: ``(68, 2)`` dlib landmarks of ``gt`` (pixel xy).
    """
    from skimage.metrics import structural_similarity

    lm = np.asarray(gt_lm, np.float64)[:, :2]
    if M.expression_features(lm)["mouth_open"] < MIN_OPENING:
        return None
    inner = lm[list(INNER_LIPS)]
    side = BOX_SCALE * float(np.linalg.norm(lm[54] - lm[48]))
    h, w = gt.shape[:2]
    box = fit_box((float(inner[:, 0].mean()), float(inner[:, 1].mean()), side), w, h)
    o, g = crop_square(out, box, SIZE), crop_square(gt, box, SIZE)
    mask = np.zeros((SIZE, SIZE), np.uint8)
    poly = np.round(crop_points(inner, box, SIZE) * 16).astype(np.int32)
    cv2.fillPoly(mask, [poly], 1, cv2.LINE_8, shift=4)
    sel = mask.astype(bool)
    if sel.sum() < 16:
        return None
    _, smap = structural_similarity(o, g, channel_axis=2, data_range=255, win_size=7, full=True)
    diff = np.abs(o.astype(np.float32) - g.astype(np.float32)) / 255.0
    spread_gt = float((g[sel].astype(np.float32) @ _LUMA).std())
    contrast = float((o[sel].astype(np.float32) @ _LUMA).std()) / spread_gt if spread_gt >= MIN_SPREAD else float("nan")
    return {"mouth_l1": float(diff[sel].mean()), "mouth_ssim": float(smap[sel].mean()), "mouth_contrast": contrast}
