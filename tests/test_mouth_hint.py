"""The driver's mouth layout as a hint to the FD-GAN inner mouth (``--cond hint``): the channels,
their alignment, the training draw, and the run-time path with ``mouth_hint`` on and off."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from reenactor.face import topology as T
from reenactor.render import landmark_image as L
from reenactor.render import mouth_hint as H

SIZE = 80


def _lips(size: int = SIZE, gap: float = 14.0) -> np.ndarray:
    """(478, 2) crop points: outer and inner lip loops on ellipses at the centre, the rest in a corner."""
    pts = np.full((T.N_LANDMARKS, 2), 2.0)
    c = np.array([size / 2, size / 2])
    for loop, (rx, ry) in ((T.OUTER_LIP_LOOP, (26.0, gap / 2 + 8)), (T.INNER_LIP_LOOP, (20.0, gap / 2))):
        a = np.linspace(np.pi, -np.pi, len(loop), endpoint=False)
        pts[list(loop)] = c + np.stack([rx * np.cos(a), -ry * np.sin(a)], 1)
    return pts


def _mouth_image(pts: np.ndarray, teeth: bool, size: int = SIZE) -> np.ndarray:
    """Lips 120 grey on 170 skin; inside the inner lips a bright upper band (teeth) over a dark cavity,
    or all cavity."""
    img = np.full((size, size, 3), 170, np.uint8)
    cv2.fillPoly(img, [np.round(pts[list(T.OUTER_LIP_LOOP)]).astype(np.int32)], (150, 90, 90))
    inner = L.inner_mouth_mask(pts, size) > 0
    img[inner] = (40, 20, 20)
    if teeth:
        top = pts[list(T.INNER_LIP_LOOP), 1].min()
        band = inner & (np.arange(size)[:, None] < top + 6)
        img[band] = (235, 235, 225)
    return img


def test_hint_reads_teeth_bright_and_the_cavity_dark_relative_to_the_lips():
    pts = _lips()
    with_teeth = H.hint_channels(_mouth_image(pts, True), pts, sigma=0.8)
    cavity = H.hint_channels(_mouth_image(pts, False), pts, sigma=0.8)
    assert with_teeth.shape == (2, SIZE, SIZE) and with_teeth.dtype == np.float32
    hole = with_teeth[1] > 0.5
    np.testing.assert_array_equal(hole, cavity[1] > 0.5)
    assert (with_teeth[0][~hole] == 0).all() and (with_teeth[1][~hole] == 0).all()
    top = int(pts[list(T.INNER_LIP_LOOP), 1].min())
    upper, middle = (top + 2, SIZE // 2), (SIZE // 2 + 2, SIZE // 2)
    assert with_teeth[0][upper] > 0.8  # teeth: well above the lips' grey (in HINT_SCALE units)
    assert cavity[0][upper] < -0.5 and with_teeth[0][middle] < -0.5  # a cavity: below it
    assert np.abs(with_teeth[0]).max() <= H.HINT_CLIP
    # relative to the driver's own lips: a uniformly brighter driver gives nearly the same layout
    brighter = np.clip(_mouth_image(pts, True).astype(int) + 30, 0, 255).astype(np.uint8)
    assert np.abs(H.hint_channels(brighter, pts, sigma=0.8)[0] - with_teeth[0])[hole].mean() < 0.05
    np.testing.assert_array_equal(H.no_hint(SIZE), np.zeros((2, SIZE, SIZE), np.float32))


def test_driver_patch_lands_its_inner_lips_on_the_target():
    """The affine fit of the patch's inner-lip loop onto the target's maps the patch's mouth there."""
    pts = _lips()
    m = cv2.getRotationMatrix2D((40.0, 40.0), 10.0, 1.3)
    m[:, 2] += (7.0, -4.0)
    inv = cv2.invertAffineTransform(m)
    patch = cv2.warpAffine(_mouth_image(pts, True), m, (128, 96), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inner = pts[list(T.INNER_LIP_LOOP)] @ m[:, :2].T + m[:, 2]
    back = H.driver_in_crop(patch, inner, pts, SIZE)
    assert back.shape == (SIZE, SIZE, 3)
    hole = L.inner_mouth_mask(pts, SIZE) > 0
    assert np.abs(back.astype(int) - _mouth_image(pts, True).astype(int))[hole].mean() < 8
    np.testing.assert_allclose(inv[:, :2] @ m[:, :2], np.eye(2), atol=1e-9)


def test_training_hint_is_withheld_from_a_share_of_pairs_and_jittered():
    pts = _lips()
    img = _mouth_image(pts, True)
    rng = np.random.default_rng(0)
    draws = [H.training_hint(img, pts, rng) for _ in range(200)]
    given = [d for d in draws if d[1].any()]
    assert all(d.shape == (2, SIZE, SIZE) for d in draws)
    assert abs(len(given) / len(draws) - (1 - H.HINT_DROP)) < 0.1
    assert all(not d.any() for d in draws if not d[1].any())
    exact = H.hint_channels(img, pts, 1.3)[0]
    diffs = [np.abs(d[0] - exact).mean() for d in given]
    assert min(diffs) > 0 and max(diffs) < 0.5  # misaligned and blurred, still the same layout
    assert all(np.corrcoef(d[0].ravel(), exact.ravel())[0, 1] > 0.7 for d in given)


# ----------------------------------------------------------------- run time
@pytest.fixture(scope="module")
def hint_parts(tmp_path_factory):
    """A residual cond=hint FD-GAN at 80 px whose last layer is random (so its output depends on every
    input), exported as the runtime's two graphs with metadata cond=hint (needs torch)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from reenactor.train.fdgan_net import FDGAN, export_onnx_parts

    torch.manual_seed(0)
    gen = FDGAN("fdgan", lm_ch=1, cond_ch=6, residual=True)
    with torch.no_grad():  # the residual model's last layer (zero at init)
        gen.tr_up[0].weight.normal_(0.0, 0.05)
    folder = tmp_path_factory.mktemp("hint_parts")
    export_onnx_parts(gen, folder, SIZE, {"cond": "hint"})
    return folder


def _driver_patch(prepared, target):
    """A driver mouth patch: the astronaut's own frame with its opening filled by teeth over a cavity."""
    from reenactor.render.mouth import extract_mouth_patch

    frame = prepared.crop_image.copy()
    inner = np.round(target[list(T.INNER_LIP_LOOP), :2]).astype(np.int32)
    cv2.fillPoly(frame, [inner], (30, 15, 15))
    top, bottom = inner[:, 1].min(), inner[:, 1].max()
    band = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(band, [inner], 1)
    band[top + (bottom - top) // 3:] = 0  # teeth in the upper third
    frame[band > 0] = (240, 240, 230)
    return extract_mouth_patch(frame, target)


def test_hint_model_reads_the_driver_mouth_and_mouth_hint_off_withholds_it(hint_parts, prepared):
    from reenactor.config import RenderConfig
    from reenactor.motion.templates import ExpressionBasis, MotionParams
    from reenactor.render.mouth import MouthRenderer
    from reenactor.render.mouth_fdgan import FDGANMouthPainter

    img, lm = prepared.crop_image, prepared.crop_landmarks
    target = ExpressionBasis(prepared.rig).landmarks(MotionParams(mouth_open=1.0))
    patch = _driver_patch(prepared, target)
    painter = FDGANMouthPainter(img, lm, str(hint_parts))
    assert painter.cond == "hint" and painter.learned is not None
    feeds, m = painter.inputs(target, img, patch)
    bare, _ = painter.inputs(target, img)
    assert feeds["cond"].shape == (1, 6, SIZE, SIZE)
    np.testing.assert_array_equal(feeds["cond"][0, :4], bare["cond"][0, :4])
    assert not bare["cond"][0, 4:].any()
    hole = feeds["cond"][0, 5] > 0.5
    np.testing.assert_array_equal(hole, feeds["cond"][0, 3] > 0.5)
    pts = L.to_crop(target, m)
    top, bottom = pts[list(T.INNER_LIP_LOOP), 1].min(), pts[list(T.INNER_LIP_LOOP), 1].max()
    rows = np.arange(SIZE)[:, None] * np.ones((1, SIZE))
    cols = np.abs(np.arange(SIZE)[None, :] - pts[list(T.INNER_LIP_LOOP), 0].mean()) < 8
    third = (bottom - top) / 3
    assert feeds["cond"][0, 4][hole & cols & (rows < top + 0.6 * third)].mean() > 0.5  # the driver's teeth
    assert feeds["cond"][0, 4][hole & cols & (rows > top + 1.6 * third)].mean() < -0.3  # its cavity

    outs = {}
    for name, hint, given in (("on", True, patch), ("off", False, patch), ("none", True, None)):
        r = MouthRenderer(img, lm, RenderConfig(mouth="fdgan", fdgan_model=str(hint_parts), mouth_hint=hint))
        out = img.copy()
        r.composite(out, target, given)
        outs[name] = out
    np.testing.assert_array_equal(outs["off"], outs["none"])
    assert np.abs(outs["on"].astype(int) - outs["off"].astype(int)).max() > 2


def test_models_without_a_hint_ignore_the_driver_patch(prepared):
    """The shipped (cond=learned) model paints the same with and without the driver's mouth."""
    from reenactor.config import RenderConfig
    from reenactor.motion.templates import ExpressionBasis, MotionParams
    from reenactor.render.mouth import MouthRenderer

    img, lm = prepared.crop_image, prepared.crop_landmarks
    target = ExpressionBasis(prepared.rig).landmarks(MotionParams(mouth_open=1.0))
    r = MouthRenderer(img, lm, replace(RenderConfig(), mouth="fdgan"))
    a, b = img.copy(), img.copy()
    r.composite(a, target, _driver_patch(prepared, target))
    r.composite(b, target, None)
    np.testing.assert_array_equal(a, b)
