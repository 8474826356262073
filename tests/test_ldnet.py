"""LD-Net: normalisation, identity augmentation, training steps, ONNX export, shipped model, rendering."""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import pytest

from reenactor.config import ReenactorConfig, RetargetConfig
from reenactor.errors import InputError
from reenactor.motion.ldnet import LDNetModel, LDNetRetargeter, denormalise, make_retargeter, normalise
from reenactor.motion.retarget import Retargeter


@pytest.fixture(scope="module")
def face(prepared) -> np.ndarray:
    return prepared.crop_landmarks


@pytest.mark.parametrize("space", ["3d", "2d"])
def test_normalise_shapes_range_and_round_trip(face, space):
    vec, frame = normalise(face, space)
    dims = 3 if space == "3d" else 2
    assert vec.shape == (478 * dims,) and vec.dtype == np.float32
    pts = vec.reshape(478, dims)
    # the square x/y bounding box spans [-1, 1] along its longer side
    assert pts[:, :2].min() >= -1.0 - 1e-6 and pts[:, :2].max() <= 1.0 + 1e-6
    assert np.isclose(np.ptp(pts[:, :2], axis=0).max(), 2.0, atol=1e-5)
    back = denormalise(vec, frame)
    assert np.abs(back[:, :dims] - face[:, :dims]).max() < 1e-3


def test_normalise_rejects_bad_input():
    with pytest.raises(InputError):
        normalise(np.zeros((10, 3)))
    with pytest.raises(InputError):
        normalise(np.full((478, 3), np.nan))
    with pytest.raises(InputError):
        normalise(np.zeros((478, 3)), "4d")


def test_identity_field_is_smooth_and_zero_for_identity():
    from reenactor.train.ldnet_data import REGION_RADII, field_numpy, sample_identity_params

    params = sample_identity_params(np.random.default_rng(0), 3, identity_first=True)
    pts = np.random.default_rng(1).uniform(-1, 1, (100, 3))
    centres = np.concatenate([np.zeros((8, 3)), params.blob_centres[1]])
    u0 = field_numpy(pts, centres, REGION_RADII, params.A[0], params.t[0])
    assert np.abs(u0).max() == 0
    u = field_numpy(pts, centres, REGION_RADII, params.A[1], params.t[1])
    u_near = field_numpy(pts + 1e-3, centres, REGION_RADII, params.A[1], params.t[1])
    assert 0 < np.abs(u).max() < 0.5  # plausible: well under one inter-ocular distance
    assert np.abs(u_near - u).max() < 5e-3  # smooth


def test_normalise_torch_matches_numpy(face):
    torch = pytest.importorskip("torch")
    from reenactor.train.ldnet_data import normalise_torch

    x = np.stack([face, face * 1.1 + 5.0])
    for space in ("3d", "2d"):
        ref = np.stack([normalise(f, space)[0] for f in x])
        got = normalise_torch(torch.from_numpy(x), space).numpy()
        assert np.abs(ref - got).max() < 1e-5


def _tiny_set(rng, n_ids=4, n_frames=16, points=12):
    """Synthetic 2D 'landmarks': identity shape + expression shapes, normalised ranges."""
    base = rng.uniform(-0.8, 0.8, (points, 2))
    ids = 0.1 * rng.standard_normal((n_ids, points, 2))
    expr = 0.1 * rng.standard_normal((n_frames, points, 2))
    x = base[None, None] + ids[:, None] + expr[None]
    return x.reshape(n_ids, n_frames, points * 2).astype(np.float32)


def _trainer(dim, n_ids):
    from reenactor.train.ldnet import Trainer

    return Trainer(dim, n_ids, hidden=64, layers=10, seed=0)


def test_stage1_and_stage2_steps_lower_the_loss():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    data = torch.from_numpy(_tiny_set(rng))
    n_ids, n_frames, dim = data.shape
    k = torch.arange(n_ids).repeat_interleave(2)
    f1 = torch.from_numpy(rng.integers(0, n_frames, len(k)))
    f2 = torch.from_numpy(rng.integers(0, n_frames, len(k)))
    k_t = (k + 1) % n_ids
    l_s1, l_s2, l_t = data[k, f1], data[k, f2], data[k_t, f1]
    tr = _trainer(dim, n_ids)
    first = tr.stage1_step(l_s2, k, k_t, 2)
    for _ in range(5):
        last = tr.stage1_step(l_s2, k, k_t, 2)
    assert last["rec"] < first["rec"]
    tr.start_stage2()
    first = tr.stage2_step(l_s1, l_s2, l_t, k_t, 2)
    for _ in range(5):
        last = tr.stage2_step(l_s1, l_s2, l_t, k_t, 2)
    assert last["rec"] < first["rec"]
    assert all(np.isfinite(v) for v in last.values())


@pytest.mark.parametrize("fp16", [False, True])
def test_onnx_export_matches_torch(tmp_path, fp16):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from reenactor.models.ldnet import LDNet
    from reenactor.train.ldnet import TorchLDNet, export_onnx

    torch.manual_seed(0)
    net = LDNet(478 * 3, 5, hidden=64, layers=10).eval()
    path = export_onnx(net, tmp_path / "m.onnx", "3d", fp16_weights=fp16)
    onnx_model = LDNetModel(path)
    ref = TorchLDNet(net, "3d")
    x = np.random.default_rng(0).uniform(-1, 1, (3, 478 * 3)).astype(np.float32)
    code = np.random.default_rng(1).standard_normal((3, 128)).astype(np.float32)
    atol = 2e-2 if fp16 else 1e-4
    assert onnx_model.space == "3d" and onnx_model.dim == 478 * 3
    np.testing.assert_allclose(onnx_model.identity(x), ref.identity(x), atol=atol)
    np.testing.assert_allclose(onnx_model.pose(x), ref.pose(x), atol=atol)
    np.testing.assert_allclose(onnx_model.generate(x, code), ref.generate(x, code), atol=atol)


def test_shipped_model_registry_and_checksum():
    from reenactor.weights import REGISTRY, WEIGHTS_DIR, sha256_of, weight_card, weight_path

    spec = REGISTRY["ldnet"]
    path = weight_path("ldnet")
    assert sha256_of(path) == spec.sha256
    assert path.stat().st_size < 20e6
    card = weight_card("ldnet")
    assert card["seed"] == 0 and card["data"]["test"] and card["command"].startswith("reenactor train ldnet")
    assert not set(card["data"]["test"]) & set(card["data"]["train"])
    assert (WEIGHTS_DIR / spec.filename).with_suffix(".json").is_file()


def test_ldnet_retargeter_interface(face):
    model = LDNetModel("ldnet")
    rt = LDNetRetargeter(face, face, RetargetConfig(), model=model)
    out = rt(face)
    assert out.shape == (478, 3) and out.dtype == np.float64
    # driving with the reference itself leaves the portrait where it is
    assert np.abs(out - face).max() < 0.5
    geo = Retargeter(face, face)
    moved = face.copy()
    moved[:, 0] += 7.0  # the driver's head moves right: so does the result
    assert np.abs(rt(moved)[:, 0].mean() - geo(moved)[:, 0].mean()) < 0.5
    assert isinstance(make_retargeter(face, face, RetargetConfig(method="ldnet")), LDNetRetargeter)
    from reenactor.config import ConfigError

    with pytest.raises(ConfigError, match="method"):  # refused by the configuration itself
        RetargetConfig(method="nope")


def test_retarget_ldnet_renders_astronaut(astronaut):
    from reenactor.api import Reenactor

    cfg = ReenactorConfig()
    r = Reenactor(replace(cfg, retarget=replace(cfg.retarget, method="ldnet")))
    frames = [astronaut, np.ascontiguousarray(np.roll(astronaut, 6, axis=1))]
    out = r.animate_frames(astronaut, frames, fps=25.0, crop=True)
    assert len(out) == 2 and out[0].shape == (512, 512, 3) and out[0].dtype == np.uint8
    assert np.abs(out[0].astype(int) - out[1].astype(int)).mean() > 0.1  # the head moved


def test_cli_accepts_retarget_option():
    from reenactor.cli import _config, build_parser

    args = build_parser().parse_args(["animate", "-s", "a.jpg", "-d", "b.mp4", "-o", "c.mp4", "--retarget", "ldnet"])
    assert _config(args).retarget.method == "ldnet"
    assert ReenactorConfig().retarget.method == "geometric"


def test_train_parser_has_budget_options():
    from reenactor.train.ldnet import add_arguments

    p = argparse.ArgumentParser()
    add_arguments(p)
    a = p.parse_args(["--out", "x", "--minutes", "5", "--threads", "1", "--seed", "3", "--resume"])
    assert a.minutes == 5 and a.threads == 1 and a.seed == 3 and a.resume
