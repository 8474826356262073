"""Per-clip metrics of the two protocols, computed from dlib measurements.

Inputs are lists of :class:`reenactor.eval.dlibface.FaceMeasurement`, one per
frame, for the method's output and for the reference stream (the ground truth
in the self protocol, the driver in the cross protocol). Landmarks are dlib-68
pixel xy of the frame they were measured in.

Every function returns plain ``dict[str, float]`` (NaN where undefined) so the
results serialise straight to JSON.
"""

from __future__ import annotations

import math

import numpy as np

from reenactor.eval import metrics as M
from reenactor.eval.dlibface import FaceMeasurement
from reenactor.eval.imageops import crop_points, crop_square, fit_box, match_size, square_box_around
from reenactor.eval.mouth_region import inner_mouth_scores
from reenactor.eval.pose import estimate_pose, euler_deg, geodesic_deg, relative_rotation

NAN = float("nan")
AXES = ("yaw", "pitch", "roll")

#: Side of the face crop used by the self protocol (pixels).
CROP_SIZE = 256
#: Face-crop side relative to the union of the ground truth's landmark boxes.
CROP_SCALE = 1.4


def self_crop_box(gt: list[FaceMeasurement]) -> tuple[float, float, float] | None:
    """Fixed square crop ``(cx, cy, side)`` covering the ground truth's face in every frame.

    The box is centred on the union of all frames' dlib-68 landmark boxes, its
    side is :data:`CROP_SCALE` times that union's larger side, and it is then
    moved (or shrunk) to lie inside the frame (:func:`fit_box`); pixel xy.
    None when no ground-truth frame has a face.
    """
    found = [m for m in gt if m.found]
    if not found:
        return None
    box = square_box_around(np.concatenate([m.landmarks for m in found]), scale=CROP_SCALE)
    w, h = found[0].size
    return fit_box(box, w, h)


class SelfAccumulator:
    """Collects the self-protocol pixel, landmark and identity metrics frame by frame.

    Args:
        gt_frames: ground-truth frames, ``HxWx3`` ``uint8`` RGB (frame 0 is the portrait).
        gt_meas: dlib measurements of ``gt_frames``.
        box: crop from :func:`self_crop_box`.
        id_stride: identity is measured on frames ``t`` with ``t % id_stride == 0``.
    """

    def __init__(self, gt_frames, gt_meas, box, id_stride: int) -> None:
        self.gt_frames = gt_frames
        self.gt_meas = gt_meas
        self.box = box
        self.id_stride = id_stride
        h, w = gt_frames[0].shape[:2]
        self.size = (w, h)
        self._gt_crops: dict[int, np.ndarray] = {}
        self.rows: dict[str, list[float]] = {k: [] for k in ("psnr", "ssim", "l1", "akd", "id_dist", "mouth_l1", "mouth_ssim", "mouth_contrast")}
        self.found: list[bool] = []

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """Bring an output frame to the ground truth's size (see :func:`match_size`)."""
        return match_size(frame, self.size)

    def add(self, t: int, out_frame: np.ndarray, out_meas: FaceMeasurement) -> None:
        """Score output frame ``t`` (already passed through :meth:`prepare`); frame 0 is skipped."""
        if t == 0:
            return
        if t not in self._gt_crops:
            self._gt_crops[t] = crop_square(self.gt_frames[t], self.box, CROP_SIZE)
        g = self._gt_crops[t]
        o = crop_square(out_frame, self.box, CROP_SIZE)
        self.rows["psnr"].append(M.psnr(o, g))
        self.rows["ssim"].append(M.ssim(o, g))
        self.rows["l1"].append(M.l1(o, g))
        gm = self.gt_meas[t]
        self.found.append(out_meas.found)
        if gm.found:
            for k, v in (inner_mouth_scores(out_frame, self.gt_frames[t], gm.landmarks) or {}).items():
                self.rows[k].append(v)
        if out_meas.found and gm.found:
            a = crop_points(out_meas.landmarks, self.box, CROP_SIZE)
            b = crop_points(gm.landmarks, self.box, CROP_SIZE)
            self.rows["akd"].append(M.akd(a, b))
        if t % self.id_stride == 0 and out_meas.descriptor is not None and gm.descriptor is not None:
            self.rows["id_dist"].append(M.identity_distance(out_meas.descriptor, gm.descriptor))

    def result(self) -> dict[str, float]:
        """Means over frames 1..N-1: psnr (dB), ssim, l1 (0..1), akd (px at 256x256), id_dist, face_found (0..1);
        mouth_l1, mouth_ssim, mouth_contrast over the frames with an open true mouth (:mod:`reenactor.eval.mouth_region`)."""
        out = {k: M.nanmean(v) for k, v in self.rows.items()}
        out["face_found"] = float(np.mean(self.found)) if self.found else NAN
        return out


def identity_cross(
    out: list[FaceMeasurement],
    portrait_desc: np.ndarray,
    driver_desc: np.ndarray | None,
    id_stride: int,
) -> dict[str, float]:
    """Cross-protocol identity metrics on frames ``t % id_stride == 0``.

    Args:
        out: measurements of the output frames (descriptors on the stride frames).
        portrait_desc: ``(128,)`` descriptor of the portrait.
        driver_desc: ``(128,)`` mean descriptor of the driver's frames (its identity).
        id_stride: frame stride of the identity measurements.

    Returns:
        ``id_verify``: share of sampled frames whose distance to the portrait is
        below 0.6 (frames without a face count as failures); ``id_dist``: mean
        distance to the portrait over sampled frames with a face; ``id_leak``:
        share of sampled frames with a face that are closer to the driver's
        identity than to the portrait's; ``id_frames``: frames sampled.
    """
    sampled = [m for t, m in enumerate(out) if t % id_stride == 0]
    if not sampled:
        return {"id_verify": NAN, "id_dist": NAN, "id_leak": NAN, "id_frames": 0}
    d_p = [M.identity_distance(m.descriptor, portrait_desc) if m.descriptor is not None else NAN for m in sampled]
    verify = float(np.mean([(not math.isnan(d)) and d < M.IDENTITY_THRESHOLD for d in d_p]))
    leaks = []
    if driver_desc is not None:
        for m, dp in zip(sampled, d_p):
            if m.descriptor is not None:
                leaks.append(M.identity_distance(m.descriptor, driver_desc) < dp)
    return {
        "id_verify": verify,
        "id_dist": M.nanmean(d_p),
        "id_leak": float(np.mean(leaks)) if leaks else NAN,
        "id_frames": len(sampled),
    }


def _series(meas: list[FaceMeasurement]):
    poses = []
    feats = []
    for m in meas:
        if m.found:
            poses.append(estimate_pose(m.landmarks, m.size))
            feats.append(M.expression_features(m.landmarks))
        else:
            poses.append(None)
            feats.append(None)
    return poses, feats


def motion(out: list[FaceMeasurement], ref: list[FaceMeasurement]) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Pose, expression and temporal-stability agreement of ``out`` with ``ref``.

    Both sequences are expressed as change from a common first frame ``r``
    (the first frame where both have a face): pose as the relative rotation
    ``R_t @ R_r.T`` decomposed into (yaw, pitch, roll) degrees, expression as
    ``f_t - f_r`` for the four features of
    :func:`reenactor.eval.metrics.expression_features` (units of IOD).

    Returns:
        ``(metrics, series)``. ``metrics`` holds, over frames where both have a
        face: ``{axis}_err`` mean absolute difference (deg), ``{axis}_corr``
        Pearson correlation, ``rot_err`` mean geodesic angle between the two
        relative rotations (deg), ``{feature}_corr`` and ``{feature}_mae``
        (IOD units), ``expr_corr`` / ``expr_mae`` (means over the four
        features), ``jitter`` (output) and ``jitter_ref`` (% IOD per frame^2),
        ``face_found`` (share of output frames with a face). ``series`` maps
        ``out_{axis}``, ``ref_{axis}``, ``out_mouth_open``, ``ref_mouth_open``
        to per-frame lists (NaN where missing), for plots.
    """
    n = len(out)
    p_out, f_out = _series(out)
    p_ref, f_ref = _series(ref)
    both = [t for t in range(n) if p_out[t] is not None and p_ref[t] is not None]
    res: dict[str, float] = {}
    series: dict[str, list[float]] = {}
    for a in AXES:
        series[f"out_{a}"] = [NAN] * n
        series[f"ref_{a}"] = [NAN] * n
    series["out_mouth_open"] = [NAN] * n
    series["ref_mouth_open"] = [NAN] * n
    res["face_found"] = float(np.mean([m.found for m in out])) if out else NAN
    res["jitter"] = M.jitter([m.landmarks for m in out])
    res["jitter_ref"] = M.jitter([m.landmarks for m in ref])
    if not both:
        for a in AXES:
            res[f"{a}_err"] = res[f"{a}_corr"] = NAN
        res["rot_err"] = NAN
        for f in M.EXPRESSION_FEATURES:
            res[f"{f}_corr"] = res[f"{f}_mae"] = NAN
        res["expr_corr"] = res["expr_mae"] = NAN
        return res, series
    r = both[0]
    ang_out = np.full((n, 3), NAN)
    ang_ref = np.full((n, 3), NAN)
    geo = []
    for t in range(n):
        if p_out[t] is not None and p_out[r] is not None:
            ang_out[t] = euler_deg(relative_rotation(p_out[t], p_out[r]))
        if p_ref[t] is not None and p_ref[r] is not None:
            ang_ref[t] = euler_deg(relative_rotation(p_ref[t], p_ref[r]))
    for t in both:
        geo.append(geodesic_deg(relative_rotation(p_out[t], p_out[r]), relative_rotation(p_ref[t], p_ref[r])))
    idx = np.array(both)
    for k, a in enumerate(AXES):
        series[f"out_{a}"] = ang_out[:, k].tolist()
        series[f"ref_{a}"] = ang_ref[:, k].tolist()
        res[f"{a}_err"] = float(np.mean(np.abs(ang_out[idx, k] - ang_ref[idx, k])))
        res[f"{a}_corr"] = M.pearson(ang_out[idx, k], ang_ref[idx, k])
    res["rot_err"] = float(np.mean(geo))
    corrs, maes = [], []
    for f in M.EXPRESSION_FEATURES:
        o = np.array([f_out[t][f] - f_out[r][f] for t in both])
        d = np.array([f_ref[t][f] - f_ref[r][f] for t in both])
        res[f"{f}_corr"] = M.pearson(o, d)
        res[f"{f}_mae"] = float(np.mean(np.abs(o - d)))
        corrs.append(res[f"{f}_corr"])
        maes.append(res[f"{f}_mae"])
    res["expr_corr"] = M.nanmean(corrs)
    res["expr_mae"] = M.nanmean(maes)
    for t in range(n):
        if f_out[t] is not None and f_out[r] is not None:
            series["out_mouth_open"][t] = f_out[t]["mouth_open"] - f_out[r]["mouth_open"]
        if f_ref[t] is not None and f_ref[r] is not None:
            series["ref_mouth_open"][t] = f_ref[t]["mouth_open"] - f_ref[r]["mouth_open"]
    return res, series
