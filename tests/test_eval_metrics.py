"""Fast tests of the evaluation suite: every metric on cases with a known answer.

Nothing here reads ../shared. dlib-based tests use the astronaut image that
ships with scikit-image and the model files that ``face-recognition-models``
installs; they skip only when dlib is not installed.
"""

from __future__ import annotations

import argparse
import json
import math

import cv2
import numpy as np
import pytest

from reenactor.errors import InputError
from reenactor.eval import metrics as M
from reenactor.eval import pose as P
from reenactor.eval.dlibface import dlib_available
from reenactor.eval.imageops import crop_points, crop_square, fit_box, letterbox, match_size, square_box_around
from reenactor.eval.naive2d import Naive2D, PiecewiseAffineWarp, border_anchors
from reenactor.eval.sets import PROTOCOLS, load_sets, resolve_data_dir, select

needs_dlib = pytest.mark.skipif(not dlib_available(), reason="dlib / face-recognition-models not installed (eval extra)")


@pytest.fixture(scope="module")
def face():
    from reenactor.eval.dlibface import DlibFace

    return DlibFace()


@pytest.fixture(scope="module")
def astro() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def shift(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Translate by whole pixels (content moves right/down), black fill."""
    h, w = img.shape[:2]
    out = np.zeros_like(img)
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = img[max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)]
    return out


def face_landmarks_68(rng: np.random.Generator | None = None) -> np.ndarray:
    """A plausible frontal dlib-68 layout (pixel xy in a 256x256 image)."""
    lm = np.zeros((68, 2))
    lm[0:17] = np.stack([np.linspace(60, 196, 17), 120 + 70 * np.sin(np.linspace(0, np.pi, 17))], 1)
    lm[17:22] = np.stack([np.linspace(75, 115, 5), np.full(5, 95.0)], 1)
    lm[22:27] = np.stack([np.linspace(141, 181, 5), np.full(5, 95.0)], 1)
    lm[27:31] = np.stack([np.full(4, 128.0), np.linspace(110, 145, 4)], 1)
    lm[31:36] = np.stack([np.linspace(113, 143, 5), np.full(5, 152.0)], 1)
    for base, cx in ((36, 98.0), (42, 158.0)):
        lm[base : base + 6] = [[cx - 15, 112], [cx - 6, 107], [cx + 6, 107], [cx + 15, 112], [cx + 6, 116], [cx - 6, 116]]
    mouth = [[103, 180], [113, 174], [122, 171], [128, 172], [134, 171], [143, 174], [153, 180], [143, 188], [134, 191], [128, 192], [122, 191], [113, 188]]
    lm[48:60] = mouth
    lm[60:68] = [[107, 180], [120, 177], [128, 177], [136, 177], [149, 180], [136, 183], [128, 183], [120, 183]]
    if rng is not None:
        lm = lm + rng.normal(0, 0.2, lm.shape)
    return lm


# ----------------------------------------------------------------- pixel metrics
def test_identical_frames_give_perfect_scores(astro):
    assert M.psnr(astro, astro) == M.PSNR_IDENTICAL_DB
    assert M.ssim(astro, astro) == pytest.approx(1.0)
    assert M.l1(astro, astro) == 0.0
    lm = face_landmarks_68()
    assert M.akd(lm, lm) == 0.0


def test_psnr_l1_known_values():
    a = np.full((32, 32, 3), 100, np.uint8)
    b = np.full((32, 32, 3), 110, np.uint8)
    assert M.psnr(a, b) == pytest.approx(10 * math.log10(255.0**2 / 100.0))
    assert M.l1(a, b) == pytest.approx(10 / 255.0)
    assert M.ssim(a, b) < 1.0


def test_pixel_metrics_reject_mismatched_shapes():
    with pytest.raises(InputError):
        M.psnr(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8))
    with pytest.raises(InputError):
        M.l1(np.zeros((8, 8, 3), np.float32), np.zeros((8, 8, 3), np.float32))


@pytest.mark.parametrize("k", [1, 3, 7.5])
def test_akd_of_shifted_landmarks_is_k(k):
    lm = face_landmarks_68()
    assert M.akd(lm + [k, 0], lm) == pytest.approx(k)
    assert M.akd(lm + [0, -k], lm) == pytest.approx(k)
    d = k / math.sqrt(2)
    assert M.akd(lm + [d, d], lm) == pytest.approx(k)


def test_akd_rejects_mismatched_sets():
    with pytest.raises(InputError):
        M.akd(np.zeros((68, 2)), np.zeros((5, 2)))


# ----------------------------------------------------------------- series metrics
def test_pearson_cases():
    x = np.arange(10.0)
    assert M.pearson(x, 2 * x + 1) == pytest.approx(1.0)
    assert M.pearson(x, -x) == pytest.approx(-1.0)
    assert M.pearson(x, np.zeros(10)) == 0.0  # constant series: no co-variation
    assert math.isnan(M.pearson([1.0, 2.0], [1.0, 2.0]))


def test_jitter_zero_for_uniform_motion_and_known_for_alternation():
    lm = face_landmarks_68()
    iod = M.inter_ocular(lm)
    seq = [lm + [t * 3.0, 0] for t in range(6)]
    assert M.jitter(seq) == pytest.approx(0.0, abs=1e-9)
    alt = [lm + [(t % 2) * 2.0, 0] for t in range(6)]  # +-2 px zig-zag: |acc| = 4 px
    assert M.jitter(alt) == pytest.approx(100 * 4.0 / iod)
    assert math.isnan(M.jitter([lm, None, lm]))


def test_expression_features_scale_free_and_respond():
    lm = face_landmarks_68()
    f = M.expression_features(lm)
    c = lm.mean(0)
    f2 = M.expression_features((lm - c) * 2.5 + c + 40)
    for k in M.EXPRESSION_FEATURES:
        assert f2[k] == pytest.approx(f[k])
    opened = lm.copy()
    opened[65:68, 1] += 10  # lower inner lip down
    assert M.expression_features(opened)["mouth_open"] > f["mouth_open"] + 0.05
    raised = lm.copy()
    raised[17:27, 1] -= 6
    assert M.expression_features(raised)["brow_raise"] > f["brow_raise"]


def test_identity_distance():
    a = np.zeros(128)
    b = np.zeros(128)
    b[0] = 0.7
    assert M.identity_distance(a, b) == pytest.approx(0.7)
    assert M.identity_distance(a, a) == 0.0


# ----------------------------------------------------------------- head pose
@pytest.mark.parametrize(
    "ypr",
    [(0, 0, 0), (20, 0, 0), (0, 15, 0), (0, 0, 25), (30, -20, 10), (-40, 10, -30), (5, 25, -35)],
)
def test_pose_measures_known_rotation(ypr):
    size = (512, 512)
    r0 = P.estimate_pose(P.project_model(np.eye(3), size), size)
    rt = P.estimate_pose(P.project_model(P.rotation_from_euler_deg(*ypr), size), size)
    got = P.euler_deg(P.relative_rotation(rt, r0))
    assert got == pytest.approx(ypr, abs=0.5)


def test_pose_never_flips_on_random_rotations():
    rng = np.random.default_rng(0)
    size = (640, 480)
    r0 = P.estimate_pose(P.project_model(np.eye(3), size, 60), size)
    for _ in range(50):
        ypr = (rng.uniform(-45, 45), rng.uniform(-30, 30), rng.uniform(-40, 40))
        r = P.rotation_from_euler_deg(*ypr)
        lm = P.project_model(r, size, 60) + rng.normal(0, 0.3, (68, 2))
        rel = P.relative_rotation(P.estimate_pose(lm, size), r0)
        assert P.geodesic_deg(rel, r) < 4.0


def test_euler_roundtrip_and_geodesic():
    for ypr in [(10, -5, 3), (-30, 20, 45)]:
        assert P.euler_deg(P.rotation_from_euler_deg(*ypr)) == pytest.approx(ypr, abs=1e-9)
    assert P.geodesic_deg(P.rotation_from_euler_deg(0, 0, 30), np.eye(3)) == pytest.approx(30.0)


# ----------------------------------------------------------------- image ops
def test_letterbox_keeps_aspect_and_maps_points():
    img = np.zeros((100, 200, 3), np.uint8)
    img[40:60, 90:110] = 255
    box, place = letterbox(img, (128, 128))
    assert box.shape == (128, 128, 3)
    assert place.scale == pytest.approx(128 / 200)
    assert box[:30].max() == 0 and box[-30:].max() == 0  # bars, not stretch
    c = place.apply(np.array([[99.5, 49.5]]))[0]
    assert c == pytest.approx([63.5, 63.5])


def test_crop_square_and_points_agree():
    img = np.zeros((300, 400, 3), np.uint8)
    cv2.circle(img, (250, 120), 3, (255, 255, 255), -1)
    box = (240.0, 110.0, 128.0)
    crop = crop_square(img, box, 256)
    p = crop_points(np.array([[250.0, 120.0]]), box, 256)[0]
    ys, xs = np.nonzero(crop[..., 0] > 128)
    assert [xs.mean(), ys.mean()] == pytest.approx(p, abs=0.6)
    cx, cy, side = square_box_around(np.array([[0, 0], [10, 20.0]]), 1.0)
    assert (cx, cy, side) == (5.0, 10.0, 20.0)


def test_fit_box_moves_and_shrinks_inside_the_image():
    assert fit_box((10.0, 50.0, 40.0), 100, 80) == (19.5, 50.0, 40.0)
    assert fit_box((95.0, 75.0, 40.0), 100, 80) == (79.5, 59.5, 40.0)
    cx, cy, side = fit_box((50.0, 40.0, 500.0), 100, 80)
    assert side == 80.0 and cy == 39.5
    inside = (50.0, 40.0, 20.0)
    assert fit_box(inside, 100, 80) == inside


def test_match_size_pads_small_rounding_and_letterboxes_otherwise():
    f = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    m = match_size(f[:4, :6], (7, 5))
    assert m.shape == (5, 7, 3)
    assert np.array_equal(m[:4, :6], f[:4, :6])
    big = match_size(np.zeros((50, 100, 3), np.uint8), (20, 20))
    assert big.shape == (20, 20, 3)


# ----------------------------------------------------------------- naive-2D
def test_piecewise_affine_identity_and_translation():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (64, 80, 3), dtype=np.uint8)
    pts = rng.uniform(15, 50, (30, 2))
    warp = PiecewiseAffineWarp(img, pts)
    assert np.array_equal(warp(pts), img)
    moved = warp(pts + [2.0, 0.0])
    # Inside the control points' hull the content moves right by 2 pixels.
    assert np.abs(moved[30:36, 32:40].astype(int) - img[30:36, 30:38].astype(int)).max() <= 1
    assert border_anchors(80, 64).shape == (16, 2)


class _FakeDetector:
    def __init__(self, lms):
        self._lms = iter(lms)

    def detect(self, rgb):
        return next(self._lms)

    def close(self):
        pass


def test_naive2d_static_driver_gives_portrait_back():
    rng = np.random.default_rng(1)
    portrait = rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)
    lm = np.concatenate([rng.uniform(20, 76, (478, 2)), np.zeros((478, 1))], 1)
    lm[33, :2] = (30, 40)
    lm[263, :2] = (66, 40)
    frames = [np.zeros((50, 50, 3), np.uint8)] * 3
    made = iter([_FakeDetector([lm]), _FakeDetector([lm * 0.5, None, lm * 0.5])])
    out = Naive2D(detector_factory=lambda static: next(made)).animate(portrait, frames)
    assert len(out) == 3
    for o in out:
        assert np.array_equal(o, portrait)


# ----------------------------------------------------------------- sets
def test_sets_are_fixed_and_well_formed():
    items = load_sets()
    by = {p: [it for it in items if it.protocol == p] for p in PROTOCOLS}
    assert len(by["self"]) >= 8 and len(by["cross"]) >= 8
    assert all(it.portrait is None for it in by["self"])
    assert all(it.portrait and it.portrait != it.driver for it in by["cross"])
    assert select(items, "all") == items
    assert [it.name for it in select(items, "cross", [by["cross"][0].name])] == [by["cross"][0].name]
    with pytest.raises(InputError):
        select(items, "self", ["no-such-item"])
    with pytest.raises(InputError):
        select(items, "both")


def test_data_dir_resolution(tmp_path, monkeypatch):
    (tmp_path / "MANIFEST.tsv").write_text("file\tidentity\n", encoding="utf-8")
    monkeypatch.setenv("REENACTOR_DATA", str(tmp_path))
    assert resolve_data_dir(None) == tmp_path.resolve()
    other = tmp_path / "x"
    other.mkdir()
    with pytest.raises(InputError):
        resolve_data_dir(other)  # --data wins over the environment, and is checked


# ----------------------------------------------------------------- report + CLI
def test_results_document_is_json_safe(tmp_path):
    from reenactor.eval.report import results_document, write_html, write_json
    from reenactor.eval.runner import ItemResult

    r = ItemResult(
        info={"name": "x", "protocol": "cross", "portrait": "p", "driver": "d", "why": "w", "frames": 3, "fps": 25.0,
              "driver_size": [8, 8], "portrait_size": [8, 8], "has_audio": False},
        metrics={"static": {"id_verify": 1.0, "yaw_corr": float("nan")}},
        speed={"static": {"seconds": 0.0, "frames": 3, "fps": None, "peak_rss_mb": 10.0, "rss_rise_mb": 0.0}},
        series={"static": {f"{w}_{k}": [0.0, float("nan"), 1.0] for w in ("out", "ref") for k in ("yaw", "pitch", "roll", "mouth_open")}},
        strip=np.zeros((16, 16, 3), np.uint8),
    )
    doc = results_document([r], ["static"], {"protocol": "cross", "max_frames": 3, "id_stride": 1, "data_dir": "d"})
    write_json(doc, tmp_path / "results.json")
    back = json.loads((tmp_path / "results.json").read_text())
    assert back["summary"]["cross"]["methods"]["static"]["id_verify"] == 1.0
    assert back["summary"]["cross"]["methods"]["static"]["yaw_corr"] is None
    write_html(doc, [r], ["static"], tmp_path / "report.html")
    text = (tmp_path / "report.html").read_text()
    assert "data:image/jpeg;base64," in text and "data:image/png;base64," in text


def test_cli_parser_and_bad_data_dir(tmp_path):
    from reenactor.eval.cli import add_eval_parser, run_eval

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    add_eval_parser(sub)
    args = parser.parse_args(["eval", "--protocol", "self", "--out", str(tmp_path / "o"), "--data", str(tmp_path), "--max-frames", "5"])
    assert args.func is run_eval and args.max_frames == 5 and args.methods[-1] == "reenactor"
    with pytest.raises(InputError):
        run_eval(args)
    with pytest.raises(SystemExit):
        parser.parse_args(["eval", "--out", "o", "--max-frames", "0"])


# ----------------------------------------------------------------- dlib
@needs_dlib
def test_dlib_identical_frames_zero_akd_and_same_identity(face, astro):
    a = face.measure(astro)
    b = face.measure(astro.copy())
    assert a.found and a.landmarks.shape == (68, 2) and a.descriptor.shape == (128,)
    assert M.akd(a.landmarks, b.landmarks) == 0.0
    assert M.identity_distance(a.descriptor, b.descriptor) == pytest.approx(0.0, abs=1e-9)


@needs_dlib
@pytest.mark.parametrize("k", [3, 8, 13])
def test_dlib_akd_of_shifted_frame_is_k(face, astro, k):
    base = face.measure(astro)
    for dx, dy in ((k, 0), (0, k)):
        moved = face.measure(shift(astro, dx, dy))
        assert M.akd(moved.landmarks, base.landmarks) == pytest.approx(k, abs=0.6)


@needs_dlib
def test_self_protocol_akd_of_shifted_frame_in_crop_pixels(face, astro):
    from reenactor.eval.protocols import CROP_SIZE, SelfAccumulator, self_crop_box

    k = 6
    gt = [astro, astro]
    gt_meas = [face.measure(f) for f in gt]
    box = self_crop_box(gt_meas)
    acc = SelfAccumulator(gt, gt_meas, box, id_stride=1)
    moved = shift(astro, k, 0)
    acc.add(1, moved, face.measure(moved))
    r = acc.result()
    assert r["akd"] == pytest.approx(k * CROP_SIZE / box[2], abs=0.6)
    same = SelfAccumulator(gt, gt_meas, box, id_stride=1)
    same.add(1, astro, gt_meas[1])
    r = same.result()
    assert r["akd"] == 0.0 and r["ssim"] == pytest.approx(1.0) and r["psnr"] == M.PSNR_IDENTICAL_DB and r["id_dist"] == 0.0


@needs_dlib
@pytest.mark.parametrize("angle", [-15, 8, 15])
def test_dlib_pose_measures_in_plane_rotation(face, astro, angle):
    h, w = astro.shape[:2]
    m0 = face.measure(astro)
    c = m0.landmarks.mean(0)
    rot = cv2.warpAffine(astro, cv2.getRotationMatrix2D((float(c[0]), float(c[1])), angle, 1.0), (w, h), borderMode=cv2.BORDER_REFLECT)
    m = face.measure(rot)
    rel = P.relative_rotation(P.estimate_pose(m.landmarks, (w, h)), P.estimate_pose(m0.landmarks, (w, h)))
    yaw, pitch, roll = P.euler_deg(rel)
    # OpenCV's positive angle turns the image counter-clockwise; roll > 0 is clockwise.
    assert roll == pytest.approx(-angle, abs=1.5)
    assert abs(yaw) < 4 and abs(pitch) < 4


@needs_dlib
def test_static_baseline_verifies_and_has_no_expression(face, astro):
    from reenactor.eval.protocols import identity_cross, motion

    h, w = astro.shape[:2]
    c = (w / 2, h / 2)
    drv = [cv2.warpAffine(astro, cv2.getRotationMatrix2D(c, a, 1.0 + 0.01 * a), (w, h)) for a in (0, 4, 8, 4, 0, -4, -8)]
    drv_meas = [face.measure(f) for f in drv]
    p = face.measure(astro)
    out_meas = [face.measure(astro) for _ in drv]
    ident = identity_cross(out_meas, p.descriptor, np.mean([m.descriptor for m in drv_meas], 0), 1)
    assert ident["id_verify"] == 1.0 and ident["id_dist"] == 0.0
    mot, series = motion(out_meas, drv_meas)
    assert mot["expr_corr"] == 0.0 and mot["roll_corr"] == 0.0
    assert mot["face_found"] == 1.0 and mot["jitter"] == 0.0
    assert mot["roll_err"] > 2.0  # the driver rolls, the static portrait does not
    assert len(series["ref_roll"]) == len(drv)


def test_mirror_table_swaps_left_and_right():
    from reenactor.eval.dlibface import MIRROR_68

    m = np.array(MIRROR_68)
    assert sorted(m) == list(range(68))
    assert np.array_equal(m[m], np.arange(68))  # an involution
    assert m[36] == 45 and m[48] == 54 and m[62] == 62 and m[8] == 8  # eye/mouth corners swap, centre stays


def test_flip_averaged_landmarks_are_mirror_symmetric(face, astro):
    """Measuring the mirror image gives the mirror of the measurement.

    With the box mirrored too, plain dlib is off by its own left/right bias
    (pixels); the flip-averaged points agree to rounding.
    """
    import dlib

    from reenactor.eval.dlibface import MIRROR_68

    m = face.measure(astro, descriptor=False)
    w = astro.shape[1]
    flipped = np.ascontiguousarray(astro[:, ::-1])
    x0, y0, x1, y1 = (int(round(v)) for v in m.box)
    rect = dlib.rectangle(w - x1, y0, w - 1 - x0, y1 - 1)
    back = 0.5 * (
        np.array([[p.x, p.y] for p in face._predictor(flipped, rect).parts()], float)
        + face._mirrored_points(flipped, rect)
    )
    back[:, 0] = w - 1 - back[:, 0]
    assert np.abs(back[list(MIRROR_68)] - m.landmarks).max() < 1e-9
