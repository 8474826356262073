"""The FD-GAN inner mouth at run time (``--mouth fdgan``) and the self protocol's inner-mouth score."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from reenactor.face import topology as T
from reenactor.render import landmark_image as L


# ----------------------------------------------------------- inner-mouth score
def _dlib_like_mouth(gap: float) -> np.ndarray:
    """68 dlib-style points: eyes 100 px apart, a mouth 80 px wide with an inner gap of ``gap`` px."""
    lm = np.zeros((68, 2))
    lm[36:42] = [[150, 200]] * 6
    lm[42:48] = [[250, 200]] * 6
    lm[36], lm[39], lm[42], lm[45] = [135, 200], [165, 200], [235, 200], [265, 200]
    xs = np.linspace(160, 240, 7)
    lm[48:55] = np.c_[xs, np.full(7, 300.0)]
    lm[54:60] = np.c_[np.linspace(240, 160, 7)[:6], np.full(6, 300.0)]
    lm[60:65] = np.c_[np.linspace(170, 230, 5), 300.0 - np.array([0, gap, gap, gap, 0]) / 2]
    lm[64:68] = np.c_[np.array([230, 215, 200, 185]), 300.0 + np.array([0, gap, gap, gap]) / 2]
    lm[17:27] = np.c_[np.linspace(130, 270, 10), np.full(10, 170.0)]
    return lm


def test_inner_mouth_scores_identical_shifted_and_closed():
    from reenactor.eval.mouth_region import inner_mouth_scores

    rng = np.random.default_rng(0)
    gt = rng.integers(0, 255, (400, 400, 3), np.uint8)
    lm = _dlib_like_mouth(30.0)
    same = inner_mouth_scores(gt.copy(), gt, lm)
    assert same["mouth_l1"] == 0.0 and same["mouth_ssim"] == pytest.approx(1.0)
    inside = np.zeros(gt.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(lm[60:68]).astype(np.int32)], 1)
    outside_only = gt.copy()
    outside_only[inside == 0] = 0  # differs only outside the inner lips
    grey = gt.copy()
    grey[inside.astype(bool)] = 128  # differs only inside
    worse = inner_mouth_scores(grey, gt, lm)
    assert worse["mouth_l1"] > 0.15 and worse["mouth_ssim"] < 0.5
    # outside changes reach the score only through the crop's resampling at the contour
    assert inner_mouth_scores(outside_only, gt, lm)["mouth_l1"] < 0.2 * worse["mouth_l1"]
    assert inner_mouth_scores(gt, gt, _dlib_like_mouth(2.0)) is None  # closed mouth: not scored
    assert same["mouth_contrast"] == pytest.approx(1.0)
    assert worse["mouth_contrast"] < 0.2  # a flat fill: only the resampled contour keeps some spread


def test_inner_mouth_contrast_is_the_ratio_of_grey_spreads():
    """mouth_contrast: the output's grey-level spread inside the true inner lips over the truth's;
    undefined (NaN) when the truth is flat."""
    from reenactor.eval.mouth_region import inner_mouth_scores

    rng = np.random.default_rng(3)
    lm = _dlib_like_mouth(30.0)
    gt = np.full((400, 400, 3), 90, np.uint8)
    gt[::2] = 150  # stripes: teeth against a cavity
    gt = np.clip(gt + rng.integers(-3, 4, gt.shape), 0, 255).astype(np.uint8)
    half = ((gt.astype(np.float32) - 120.0) * 0.5 + 120.0).astype(np.uint8)
    r = inner_mouth_scores(half, gt, lm)["mouth_contrast"]
    assert r == pytest.approx(0.5, abs=0.03)
    assert np.isnan(inner_mouth_scores(gt, np.full_like(gt, 100), lm)["mouth_contrast"])


# --------------------------------------------------------------- the network
@pytest.fixture(scope="module")
def untrained_parts(tmp_path_factory):
    """An untrained residual FD-GAN at 80 px exported as the runtime's two graphs (needs torch)."""
    torch = pytest.importorskip("torch")
    from reenactor.train.fdgan_net import FDGAN, export_onnx_parts

    torch.manual_seed(0)
    gen = FDGAN("fdgan", lm_ch=1, cond_ch=3, residual=True)
    folder = tmp_path_factory.mktemp("fdgan_parts")
    export_onnx_parts(gen, folder, 80)
    return folder


def test_residual_fdgan_starts_as_its_condition():
    torch = pytest.importorskip("torch")
    from reenactor.train.fdgan_net import FDGAN

    gen = FDGAN("fdgan", lm_ch=1, cond_ch=3, residual=True).eval()
    cond = torch.rand(2, 3, 64, 64) * 2.4 - 1.2
    with torch.no_grad():
        out = gen(torch.rand(2, 3, 64, 64), torch.rand(2, 1, 64, 64), torch.rand(2, 1, 64, 64), cond)
    assert torch.equal(out, cond.clamp(-1, 1))
    with pytest.raises(ValueError, match="condition"):
        FDGAN("fdgan", cond_ch=0, residual=True)


def _opened(portrait) -> np.ndarray:
    """Target landmarks of a prepared portrait with the mouth wide open (crop pixels)."""
    from reenactor.motion.templates import ExpressionBasis, MotionParams

    return ExpressionBasis(portrait.rig).landmarks(MotionParams(mouth_open=1.0))


def test_painter_runs_the_contract_of_training(untrained_parts, prepared):
    """Untrained and residual, the painter returns exactly the training condition: the portrait warped in crop space."""
    from reenactor.render.mouth_fdgan import REGION, FDGANMouthPainter

    img, lm = prepared.crop_image, prepared.crop_landmarks
    painter = FDGANMouthPainter(img, lm, str(untrained_parts))
    assert (painter.size, painter.channels) == (80, 1)
    target = _opened(prepared)
    crop, m = painter.paint(img, target)
    assert crop.shape == (80, 80, 3) and crop.dtype == np.float32
    np.testing.assert_allclose(m, L.crop_affine(target, REGION, 80))
    src_m = L.crop_affine(lm, REGION, 80)
    cond = L.warp_to_landmarks(L.crop_image(img, src_m, 80), L.to_crop(lm, src_m), L.to_crop(target, m))
    assert np.abs(crop - cond.astype(np.float32)).max() <= 1.0


def test_mouth_fdgan_renders_through_the_pipeline(untrained_parts, astronaut):
    from reenactor.api import Reenactor
    from reenactor.config import ReenactorConfig
    from reenactor.motion.templates import ExpressionBasis, MotionParams

    cfg = ReenactorConfig()
    outs = {}
    for mode in ("off", "fdgan"):
        r = Reenactor(replace(cfg, render=replace(cfg.render, mouth=mode, fdgan_model=str(untrained_parts))))
        p = r.prepare(astronaut)
        target = ExpressionBasis(p.rig).landmarks(MotionParams(mouth_open=1.0))
        outs[mode] = r.render(p, target, None, crop_output=True)
    assert outs["fdgan"].shape == outs["off"].shape
    diff = np.abs(outs["fdgan"].astype(int) - outs["off"].astype(int)).max(axis=2)
    assert diff.max() > 10  # the opening is repainted (from the warped crop, not the renderer's warp)
    ys, xs = np.nonzero(diff > 10)
    mouth = target[list(T.OUTER_LIP_LOOP), :2]
    assert xs.min() >= mouth[:, 0].min() - 4 and xs.max() <= mouth[:, 0].max() + 4  # only at the mouth


def test_missing_fdgan_model_is_a_clear_error(tmp_path):
    from reenactor.render.mouth_fdgan import FDGANMouthPainter
    from reenactor.weights import WeightsError

    with pytest.raises(WeightsError, match="no shipped model"):
        FDGANMouthPainter(np.zeros((64, 64, 3), np.uint8), np.zeros((478, 3)), "no_such_model")


def test_shipped_fdgan_mouth_is_registered_and_paints(prepared):
    """The shipped parts pass their checksums and carry their cards; the translator refines the learned
    mouth it is conditioned on (``cond="learned"``): a change of a few grey levels, not noise."""
    from reenactor.render.mouth_fdgan import MODEL_NAME, REGION, FDGANMouthPainter
    from reenactor.weights import weight_card, weight_path

    for part in ("extractor", "translator"):
        assert weight_path(f"{MODEL_NAME}_{part}").stat().st_size < 20_000_000
        card = weight_card(f"{MODEL_NAME}_{part}")
        assert card["config"]["region"] == REGION and card["config"]["residual"] is True
        assert card["config"]["cond"] == "learned" and 0 < card["strength"]["strength"] <= 1
        assert card["parts"]["onnx_parts_max_abs_diff_vs_torch"] < 1e-4
    img, lm = prepared.crop_image, prepared.crop_landmarks
    painter = FDGANMouthPainter(img, lm)
    assert painter.cond == "learned"
    target = _opened(prepared)
    crop, m = painter.paint(img, target)
    learned, m2 = painter.learned.paint(img, target)
    assert np.allclose(m, m2)
    diff = np.abs(crop - learned)
    assert np.isfinite(crop).all() and 0.05 < diff.mean() < 20 and diff.max() > 2


def test_painter_with_a_hole_model_paints_into_the_cut_out_opening(tmp_path, prepared):
    """A model trained with --cond hole (4 condition channels) gets the holed condition; untrained and
    residual, it returns mid grey inside the target's opening and the warp outside."""
    torch = pytest.importorskip("torch")
    from reenactor.render.mouth_fdgan import REGION, FDGANMouthPainter
    from reenactor.train.fdgan_net import FDGAN, export_onnx_parts

    torch.manual_seed(0)
    export_onnx_parts(FDGAN("fdgan", lm_ch=1, cond_ch=4, residual=True), tmp_path, 80)
    img, lm = prepared.crop_image, prepared.crop_landmarks
    painter = FDGANMouthPainter(img, lm, str(tmp_path))
    assert painter.cond == "hole"
    target = _opened(prepared)
    crop, m = painter.paint(img, target)
    pts = L.to_crop(target, m)
    src_m = L.crop_affine(lm, REGION, 80)
    warped = L.warp_to_landmarks(L.crop_image(img, src_m, 80), L.to_crop(lm, src_m), pts)
    hole = L.mouth_condition(warped, pts, True)[3] > 0.5
    assert hole.sum() > 100
    assert np.abs(crop[hole] - 127.5).max() <= 1.0
    assert np.abs(crop[~hole] - warped[~hole].astype(np.float32)).max() <= 1.0



def test_painter_with_a_learned_condition_refines_the_learned_mouth(tmp_path, prepared):
    """--cond learned: the translator's metadata says so; its condition's hole holds the learned
    painter's mouth painted on the warped crop with the whole portrait's appearance (the lips crop
    holds no cheek); an untrained residual model paints exactly what --mouth learned paints, and a
    translator change is added to it inside the opening."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from reenactor.render.mouth_fdgan import REGION, FDGANMouthPainter
    from reenactor.render.mouth_learned import LearnedMouthPainter, appearance, painted_in_place
    from reenactor.train.fdgan_net import FDGAN, export_onnx_parts

    torch.manual_seed(0)
    export_onnx_parts(FDGAN("fdgan", lm_ch=1, cond_ch=4, residual=True), tmp_path, 80, {"cond": "learned"})
    img, lm = prepared.crop_image, prepared.crop_landmarks
    painter = FDGANMouthPainter(img, lm, str(tmp_path))
    assert painter.cond == "learned"
    np.testing.assert_array_equal(painter.learned.cond, appearance(img, lm))
    target = _opened(prepared)
    feeds, m = painter.inputs(target)  # no frame: the training condition
    pts = L.to_crop(target, m)
    src_m = L.crop_affine(lm, REGION, 80)
    src_crop, src_pts = L.crop_image(img, src_m, 80), L.to_crop(lm, src_m)
    assert np.abs(appearance(src_crop, src_pts)[3:] - appearance(img, lm)[3:]).max() > 0.01  # the crop's skin differs
    warped = L.warp_to_landmarks(src_crop, src_pts, pts)
    learned = painted_in_place(LearnedMouthPainter(appearance(img, lm)), warped, pts)
    np.testing.assert_allclose(feeds["cond"][0], L.mouth_condition(warped, pts, True, learned), atol=1e-6)
    hole = feeds["cond"][0, 3] > 0.5
    assert np.abs(learned[hole].astype(np.float32) - 127.5).mean() > 10  # a painted mouth, not the grey hole

    crop, m2 = painter.paint(img, target)  # untrained: no change to the learned mouth painted on the frame
    ref, ref_m = LearnedMouthPainter(appearance(img, lm)).paint(img, target)
    np.testing.assert_array_equal(m2, ref_m)
    assert np.abs(crop - ref).max() <= 1e-3
    frame_feeds, _ = painter.inputs(target, img)  # at run time the hole holds that painting, in the lips crop
    np.testing.assert_array_equal(frame_feeds["cond"][0, 3], feeds["cond"][0, 3])
    np.testing.assert_array_equal(frame_feeds["cond"][0, :3, ~hole], feeds["cond"][0, :3, ~hole])
    assert np.abs(frame_feeds["cond"][0, :3, hole]).mean() > 0.05  # painted, not grey
    change = np.zeros((80, 80, 3), np.float32)
    change[..., 0] = 40.0  # +40 red everywhere in the lips crop
    shifted, _ = painter._refined(change, m)
    centre = (slice(16, 48), slice(20, 60))  # the opening; the learned crop's middle lies well inside the lips crop
    unclipped = ref[centre][..., 0] < 200
    assert unclipped.mean() > 0.5
    assert np.abs(shifted[centre][..., 0][unclipped] - ref[centre][..., 0][unclipped] - 40.0).max() <= 1e-3
    np.testing.assert_array_equal(shifted[..., 1:], ref[..., 1:])
