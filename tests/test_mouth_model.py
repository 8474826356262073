"""Fast tier: the learned inner-mouth model (geometry, ONNX parity, shipped weights, rendering)."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from reenactor.face import topology as T
from reenactor.render import mouth_learned as ML
from reenactor.weights import REGISTRY, WeightsError, onnx_session, weight_card, weight_path


def _ellipse_points(cx=40.0, cy=32.0, a=20.0, b=8.0, ai=14.0, bi=4.0) -> np.ndarray:
    """(40, 2) outer then inner lip loop on ellipses, in the loop orders of the topology."""
    # Loops start at the subject's right corner (left in the crop), run along
    # the upper lip to the other corner, and back along the lower lip.
    ang = np.pi - np.linspace(0, 2 * np.pi, 20, endpoint=False)
    outer = np.stack([cx + a * np.cos(ang), cy - b * np.sin(ang)], 1)
    inner = np.stack([cx + ai * np.cos(ang), cy - bi * np.sin(ang)], 1)
    return np.vstack([outer, inner]).astype(np.float32)


def test_shape_channels_and_input_layout():
    pts = _ellipse_points()
    shape = ML.shape_channels(pts)
    assert shape.shape == (4, ML.CROP_H, ML.CROP_W) and shape.dtype == np.float32
    mask, inner, ring, t = shape
    assert mask[32, 40] == 1 and mask[32, 2] == 0 and mask.sum() > (inner > 0.5).sum()
    assert ring[32 - 6, 40] > 0.5 and ring[32, 40] == 0  # upper lip band, not the opening
    assert t[29, 40] < 0.3 < 0.7 < t[35, 40]  # 0 at the upper inner lip, 1 at the lower
    crop = np.full((ML.CROP_H, ML.CROP_W, 3), 200, np.uint8)
    cond = np.linspace(0.1, 0.9, 6).astype(np.float32)
    x = ML.net_input(crop, shape, cond)
    assert x.shape == (ML.IN_CHANNELS, ML.CROP_H, ML.CROP_W) and x.dtype == np.float32
    assert np.all(x[:3][:, mask > 0] == 0)  # the inner mouth is hidden from the network
    np.testing.assert_allclose(x[:3, 0, 0], 200 / 255 - 0.5, atol=1e-6)
    np.testing.assert_allclose(x[7:, 5, 7], cond - 0.5, atol=1e-6)


def test_mouth_affine_normalises_roll_and_scale():
    lm = np.zeros((478, 2))
    lm[list(T.OUTER_LIP_LOOP)] = np.array([300.0, 200.0]) + np.random.default_rng(0).normal(0, 1, (20, 2))
    ang = np.deg2rad(25)
    half = 0.5 * 90.0 * np.array([np.cos(ang), np.sin(ang)])
    lm[T.MOUTH_CORNERS[0]], lm[T.MOUTH_CORNERS[1]] = np.array([300.0, 200.0]) - half, np.array([300.0, 200.0]) + half
    m = ML.mouth_affine(lm)
    a = m[:, :2] @ lm[T.MOUTH_CORNERS[0]] + m[:, 2]
    b = m[:, :2] @ lm[T.MOUTH_CORNERS[1]] + m[:, 2]
    assert abs(a[1] - b[1]) < 1e-9 and abs((b[0] - a[0]) - ML.MOUTH_WIDTH) < 1e-9


def test_onnx_export_matches_torch(tmp_path):
    torch = pytest.importorskip("torch")
    from reenactor.models.mouth import MouthNet
    from reenactor.train.mouth import export_onnx

    torch.manual_seed(0)
    net = MouthNet()
    with torch.no_grad():  # push the untrained output away from a flat 0.5
        for p in net.parameters():
            p.mul_(3.0)
    path = export_onnx(net, tmp_path / "mouth.onnx")
    x = np.random.default_rng(1).normal(0, 0.5, (3, ML.IN_CHANNELS, ML.CROP_H, ML.CROP_W)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    got = onnx_session(path).run(None, {"x": x})[0]
    assert got.shape == (3, 3, ML.CROP_H, ML.CROP_W)
    assert ref.std() > 0.01
    assert np.abs(ref - got).max() < 1e-5


def test_shipped_onnx_matches_torch_with_its_own_weights():
    """The shipped graph is the PyTorch MouthNet: load its initialisers into torch and compare."""
    torch = pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    from reenactor.models.mouth import MouthNet

    path = weight_path(ML.MODEL_NAME)
    card = weight_card(ML.MODEL_NAME)
    net = MouthNet(widths=tuple(card["widths"]))
    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    state = net.state_dict()
    assert set(state) <= set(inits)
    net.load_state_dict({k: torch.from_numpy(inits[k].copy()) for k in state})
    net.eval()
    x = np.random.default_rng(2).normal(0, 0.5, (2, ML.IN_CHANNELS, ML.CROP_H, ML.CROP_W)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    got = onnx_session(ML.MODEL_NAME).run(None, {"x": x})[0]
    assert np.abs(ref - got).max() < 1e-5


def test_shipped_model_is_registered_with_its_card():
    path = weight_path(ML.MODEL_NAME)  # verifies the sha256
    assert path.stat().st_size < 2.5 * 2**20
    card = weight_card(ML.MODEL_NAME)
    for key in ("command", "seed", "steps", "val_curve", "cpu_ms_per_frame_onnxruntime_1_thread", "data"):
        assert key in card
    assert card["sha256"] == REGISTRY[ML.MODEL_NAME].sha256
    assert card["command"].startswith("reenactor train mouth")
    train_ids, val_ids = set(card["data"]["train_identities"]), set(card["data"]["val_identities"])
    assert train_ids and val_ids and not train_ids & val_ids


def test_corrupt_model_is_refused(monkeypatch):
    import reenactor.weights as W

    spec = REGISTRY[ML.MODEL_NAME]
    monkeypatch.setitem(W.REGISTRY, ML.MODEL_NAME, replace(spec, sha256="0" * 64))
    monkeypatch.setattr(W, "_VERIFIED", set())
    with pytest.raises(WeightsError):
        weight_path(ML.MODEL_NAME)


# ------------------------------------------------------------ rendering
@pytest.fixture(scope="module")
def closed_mouth_portrait(astronaut):
    """The astronaut with her teeth covered and her lips pressed shut (512x512 crop)."""
    from reenactor.api import Reenactor
    from reenactor.config import ReenactorConfig
    from reenactor.motion.templates import ExpressionBasis, MotionParams
    from reenactor.render.mouth import lip_ring_mask

    cfg = ReenactorConfig()
    r = Reenactor(replace(cfg, render=replace(cfg.render, mouth="off", eyes=False)))
    p = r.prepare(astronaut)
    img = p.crop_image.copy()
    lm = p.crop_landmarks
    lip = img[lip_ring_mask(img.shape[:2], lm)].mean(0)
    hole = np.zeros(img.shape[:2], np.uint8)
    cv2.fillPoly(hole, [np.round(lm[list(T.INNER_LIP_LOOP), :2]).astype(np.int32)], 1)
    hole = cv2.GaussianBlur(cv2.dilate(hole, np.ones((3, 3), np.uint8)).astype(np.float32), (0, 0), 1.0)[..., None]
    p.crop_image[:] = np.clip(hole * lip + (1 - hole) * img, 0, 255).astype(np.uint8)
    p._spaces.clear()
    return r.render(p, ExpressionBasis(p.rig).landmarks(MotionParams(mouth_open=-0.45)), None, crop_output=True)


def _open_mouth(portrait: np.ndarray, mode: str):
    from reenactor.api import Reenactor
    from reenactor.config import ReenactorConfig
    from reenactor.motion.templates import ExpressionBasis, MotionParams
    from reenactor.render.mouth import _lab, mean_lip_lab, mouth_opening

    cfg = ReenactorConfig()
    r = Reenactor(replace(cfg, render=replace(cfg.render, mouth=mode)))
    p = r.prepare(portrait)
    target = ExpressionBasis(p.rig).landmarks(MotionParams(mouth_open=1.0))
    out = r.render(p, target, None, crop_output=True)
    m = np.zeros(out.shape[:2], np.uint8)
    cv2.fillPoly(m, [np.round(target[list(T.INNER_LIP_LOOP), :2]).astype(np.int32)], 1)
    m = cv2.erode(m, np.ones((5, 5), np.uint8)).astype(bool)
    inner = _lab(out)[m]
    lip = mean_lip_lab(p.crop_image, p.crop_landmarks)
    return mouth_opening(p.crop_landmarks), mouth_opening(target), inner, lip


def test_closed_mouth_opens_onto_a_painted_inner_mouth(closed_mouth_portrait):
    """Not a stretched copy of the lips: the inner mouth's colours differ from the lip colour.

    Colours are OpenCV float Lab (L 0..100); distances are Euclidean Lab (dE).
    """
    op0, op1, stretched, lip = _open_mouth(closed_mouth_portrait, "off")
    assert op0 < 0.03 and op1 > 0.25  # closed portrait, wide-open target
    _, _, painted, lip2 = _open_mouth(closed_mouth_portrait, "learned")
    np.testing.assert_allclose(lip, lip2, atol=1e-3)
    d_off = np.linalg.norm(stretched - lip, axis=1)
    d_learned = np.linalg.norm(painted - lip, axis=1)
    # The warp alone stretches the lips over the opening: lip-coloured.
    assert d_off.mean() < 10 and (d_off > 15).mean() < 0.1
    # The painted mouth is not: far from the lip colour over much of it ...
    assert d_learned.mean() > 2 * d_off.mean() and (d_learned > 15).mean() > 0.25
    # ... with teeth brighter than the lips and a cavity darker than them.
    lo, hi = np.percentile(painted[:, 0], [5, 95])
    assert hi > lip[0] + 6 and lo < lip[0] - 12
    assert painted[:, 0].std() > 2 * stretched[:, 0].std()


def test_cli_accepts_mouth_learned():
    from reenactor.cli import _config, build_parser

    args = build_parser().parse_args(["animate", "-s", "p.jpg", "-o", "o.mp4", "--motion", "talk", "--mouth", "learned"])
    assert _config(args).render.mouth == "learned"


def test_unknown_mouth_mode_is_refused(astronaut):
    from reenactor.config import ConfigError, RenderConfig

    with pytest.raises(ConfigError, match="mouth"):  # refused by the configuration itself
        RenderConfig(mouth="teeth")
