"""``reenactor train fdgan``: the landmark rasteriser, the source warp, and a tiny training run
(checkpoint, resume, ONNX export matching torch) on a synthetic dataset written by the test."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reenactor.face import topology as T
from reenactor.render import landmark_image as L

SIZE = 32


def _face(size: int = SIZE, open_: float = 0.3, shift: float = 0.0, oval: bool = False) -> np.ndarray:
    """(478, 2) crop-pixel landmarks: lips on two ellipses at the centre, every other point in a corner
    (with ``oval``, the face oval on a large ellipse)."""
    pts = np.full((T.N_LANDMARKS, 2), 2.0)
    c = np.array([size / 2 + shift, size / 2])
    if oval:
        a = np.linspace(0, 2 * np.pi, len(T.face_oval()), endpoint=False)
        pts[list(T.face_oval())] = c + 0.45 * size * np.stack([np.cos(a), np.sin(a)], 1)
    for loop, (rx, ry) in ((T.OUTER_LIP_LOOP, (0.3 * size, 0.15 * size)), (T.INNER_LIP_LOOP, (0.22 * size, open_ * 0.12 * size))):
        a = np.linspace(np.pi, -np.pi, len(loop), endpoint=False)  # starts at the left corner, upper lip first
        pts[list(loop)] = c + np.stack([rx * np.cos(a), -ry * np.sin(a)], 1)
    pts[T.RIGHT_EYE_CORNERS[0]] = (0.2 * size, 0.1 * size)
    pts[T.LEFT_EYE_CORNERS[0]] = (0.8 * size, 0.1 * size)
    return pts


# --------------------------------------------------------------- rasteriser
def test_landmark_image_shape_range_and_lines_on_the_points():
    pts = _face(64)
    img = L.landmark_image(pts, 64)
    assert img.shape == (1, 64, 64) and img.dtype == np.float32
    assert img.min() >= 0.0 and img.max() <= 1.0 and img.max() > 0.9
    for x, y in pts[list(T.OUTER_LIP_LOOP) + list(T.INNER_LIP_LOOP)]:
        yi, xi = int(round(y)), int(round(x))
        assert img[0, yi - 1:yi + 2, xi - 1:xi + 2].max() > 0.6, (x, y)  # the lines pass through the points
    assert img[0, 32, 32] == 0.0  # centre of the mouth: between the inner lips, no line
    assert img[0, 40:, 50:].max() == 0.0  # far from every curve
    three = L.landmark_image(pts, 64, channels=3)
    assert three.shape == (3, 64, 64)
    lips = np.zeros((64, 64), bool)
    lips[8:56, 8:56] = True
    assert three[2][lips].max() > 0.9 and three[:2][:, lips].max() == 0.0  # lips alone in channel 2
    np.testing.assert_allclose(three[2][lips], img[0][lips], atol=1e-6)
    # lines scale with the crop: at twice the side (length x2) lines are twice as thick (1 -> 2 px)
    assert (L.line_thickness(128), L.line_thickness(256)) == (1, 2)
    ratio = L.landmark_image(_face(256), 256).sum() / L.landmark_image(_face(128), 128).sum()
    assert 3.0 < ratio < 6.0
    with pytest.raises(ValueError):
        L.landmark_image(pts, 64, channels=2)


def test_warp_to_landmarks_identity_and_translation():
    rng = np.random.default_rng(0)
    img = (rng.random((SIZE, SIZE, 3)) * 255).astype(np.uint8)
    img = np.ascontiguousarray(np.repeat(np.repeat(img[::4, ::4], 4, 0), 4, 1))
    pts = _face() + rng.normal(0, 0.5, (T.N_LANDMARKS, 2))
    same = L.warp_to_landmarks(img, pts, pts)
    assert np.abs(same.astype(int) - img).max() <= 1
    moved = L.warp_to_landmarks(img, pts, pts + [3.0, 0.0])  # every point 3 px right
    assert np.abs(moved[:, 8:].astype(int) - img[:, 5:-3]).mean() < 2.0


def test_crop_affine_levels_eyes_and_centres_the_mouth():
    lm = np.zeros((T.N_LANDMARKS, 3))
    lm[:, :2] = _face(100) * 2 + [40, 60]
    ang = np.deg2rad(20)
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    lm[:, :2] = lm[:, :2] @ rot.T
    m = L.crop_affine(lm, "mouth", 128)
    pts = L.to_crop(lm, m)
    eyes = pts[[T.RIGHT_EYE_CORNERS[0], T.LEFT_EYE_CORNERS[0]]]
    assert abs(eyes[0, 1] - eyes[1, 1]) < 1e-3
    assert np.isclose(eyes[1, 0] - eyes[0, 0], L.MOUTH_IOD * 128, atol=1e-3)
    np.testing.assert_allclose(pts[list(T.OUTER_LIP_LOOP)].mean(0), [64, 64], atol=1e-3)


# ---------------------------------------------------------------- training
def _synthetic_data(root, n_ids: int = 4, frames: int = 6, max_frames: int = 160, region: str = "mouth"):
    """A landmark-cache index and a crop cache of ``n_ids`` one-clip identities (no video needed)."""
    from reenactor.train import fdgan_data as FD

    lm_dir, cache = root / "landmarks", root / "cache"
    lm_dir.mkdir()
    (cache / f"{region}{SIZE}").mkdir(parents=True)
    clips = []
    rng = np.random.default_rng(0)
    for k in range(n_ids):
        name = f"synth{k}"
        clips.append({"name": name, "video": f"videos/{name}.mp4", "identity": f"person{k}", "frames": frames, "found": frames, "file": f"{name}.npz"})
        colour = rng.uniform(60, 200, 3)
        crops, points, opening = [], [], []
        for f in range(frames):
            op = 0.1 + 0.15 * f
            pts = _face(SIZE, op, shift=rng.normal(0, 0.5), oval=region == "face")
            img = np.empty((SIZE, SIZE, 3), np.uint8)
            img[:] = colour
            mouth = L.inner_mouth_mask(pts, SIZE) > 0
            img[mouth] = (30, 20, 20)
            crops.append(img)
            points.append(pts)
            opening.append(op)
        np.savez(cache / f"{region}{SIZE}" / f"{name}.npz", version=np.int32(FD.CROPS_VERSION), max_frames=np.int32(max_frames),
                 crops=np.stack(crops), points=np.stack(points).astype(np.float32), opening=np.asarray(opening, np.float32),
                 appearance=np.tile(np.r_[colour * 0.8, colour] / 255.0, (frames, 1)).astype(np.float32))
    (lm_dir / "index.json").write_text(json.dumps({"settings": {}, "clips": clips}))
    return lm_dir, cache


def _args(tmp_path, lm_dir, cache, *extra):
    import argparse

    from reenactor.train import fdgan

    p = argparse.ArgumentParser()
    fdgan.add_arguments(p)
    return p.parse_args(["--data", str(tmp_path / "no_data"), "--landmarks", str(lm_dir), "--cache", str(cache),
                         "--out", str(tmp_path / "out"), "--size", str(SIZE), "--val-identities", "1", "--val-pairs", "4",
                         "--checkpoint-every", "2", "--log-every", "1", "--no-progress", *extra])


def test_train_resume_and_export(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("reenactor.train.fdgan_net")
    ort = pytest.importorskip("onnxruntime")
    from reenactor.train import fdgan

    lm_dir, cache = _synthetic_data(tmp_path)
    out = tmp_path / "out"
    assert fdgan.run(_args(tmp_path, lm_dir, cache, "--steps", "2", "--seed", "3")) == 0
    ck = torch.load(out / "ckpt.pt", map_location="cpu", weights_only=False)
    assert ck["state"]["step"] == 2 and ck["config"]["cond"] == "warp" and ck["config"]["n_ids"] == 3
    assert ck["split"]["val"] and not set(ck["split"]["val"]) & set(ck["split"]["train"])
    assert (out / "curve.png").is_file() and (out / "samples.png").is_file()

    assert fdgan.run(_args(tmp_path, lm_dir, cache, "--steps", "3", "--seed", "3", "--resume", "--export")) == 0
    ck2 = torch.load(out / "ckpt.pt", map_location="cpu", weights_only=False)
    assert ck2["state"]["step"] == 3 and len(ck2["state"]["commands"]) == 2
    assert ck2["opt_g"]["state"]  # optimiser state restored and carried on
    recs = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs if r["kind"] == "train"] == [1, 2, 3]
    vals = [r for r in recs if r["kind"] == "val"]
    assert all(np.isfinite(r["val_l1"]) and -1 <= r["val_ssim"] <= 1 for r in vals) and "warp_l1" in vals[0]

    card = json.loads((out / "fdgan_mouth.json").read_text())
    assert card["seed"] == 3 and card["steps"] == 3 and card["data"]["val_identities"] == ck["split"]["val"]
    assert card["onnx_max_abs_diff_vs_torch"] < 1e-4
    from reenactor.weights import sha256_of

    assert card["sha256"] == sha256_of(out / "fdgan_mouth.onnx")
    # onnxruntime loads it and matches the checkpoint's generator in torch
    gen = fdgan.build_models(ck2["config"])[0]
    gen.load_state_dict(ck2["gen"])
    gen.eval()
    rng = np.random.default_rng(1)
    feeds = {"src_img": rng.uniform(-1, 1, (1, 3, SIZE, SIZE)), "src_lm": L.landmark_image(_face(), SIZE)[None],
             "tgt_lm": L.landmark_image(_face(open_=1.0), SIZE)[None], "cond": rng.uniform(-1, 1, (1, 3, SIZE, SIZE))}
    feeds = {k: np.asarray(v, np.float32) for k, v in feeds.items()}
    sess = ort.InferenceSession(str(out / "fdgan_mouth.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, feeds)[0]
    with torch.no_grad():
        ref = gen(*(torch.from_numpy(feeds[k]) for k in ("src_img", "src_lm", "tgt_lm", "cond"))).numpy()
    assert got.shape == (1, 3, SIZE, SIZE) and np.abs(got - ref).max() < 1e-4
    # exporting again at the step reached trains nothing and is not recorded as an invocation
    assert fdgan.run(_args(tmp_path, lm_dir, cache, "--steps", "3", "--seed", "3", "--resume", "--export")) == 0
    ck3 = torch.load(out / "ckpt.pt", map_location="cpu", weights_only=False)
    assert ck3["state"]["commands"] == ck2["state"]["commands"] and len(ck3["state"]["lrs"]) == 2


def test_resume_refuses_another_config(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("reenactor.train.fdgan_net")
    from reenactor.errors import InputError
    from reenactor.train import fdgan

    lm_dir, cache = _synthetic_data(tmp_path)
    assert fdgan.run(_args(tmp_path, lm_dir, cache, "--steps", "1", "--variant", "fdgan1")) == 0
    with pytest.raises(InputError):
        fdgan.run(_args(tmp_path, lm_dir, cache, "--steps", "2", "--variant", "adain", "--resume"))


def test_face_region_trains_without_condition(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("reenactor.train.fdgan_net")
    from reenactor.train import fdgan

    lm_dir, cache = _synthetic_data(tmp_path, region="face")
    assert fdgan.run(_args(tmp_path, lm_dir, cache, "--steps", "1", "--region", "face", "--lm-channels", "3")) == 0
    ck = torch.load(tmp_path / "out" / "ckpt.pt", map_location="cpu", weights_only=False)
    assert ck["config"]["cond"] == "none" and ck["config"]["cond_ch"] == 0 and ck["config"]["lm_ch"] == 3
    val = ck["state"]["history"][-1]
    assert np.isfinite(val["val_l1"]) and np.isfinite(val["val_ssim"])


def test_fdgan_is_a_train_subcommand():
    from reenactor.train.cli import TRAINERS

    assert TRAINERS["fdgan"][0] == "reenactor.train.fdgan"


def _one_pixel_error(err: float) -> tuple:
    """generator_losses' arguments for a generator that returns zeros, a target off by ``err``
    on one pixel of a 2x2 image, and a discriminator and classifier that return zeros."""
    import torch

    class Gen(torch.nn.Module):
        def forward(self, src_img, src_lm, tgt_lm, cond):
            return torch.zeros(1, 3, 2, 2)

    zero = lambda x, *_: torch.zeros(x.shape[0], 1, 2, 2)  # noqa: E731
    tgt = torch.zeros(1, 3, 2, 2)
    tgt[0, :, 0, 0] = err
    return (Gen(), zero, lambda x: torch.zeros(x.shape[0], 2, 2, 2), None, None, tgt, None, torch.zeros(1, dtype=torch.int64))


def test_inner_weight_and_closed_sources_and_init(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("reenactor.train.fdgan_net")
    from reenactor.train import fdgan
    from reenactor.train import fdgan_data as FD
    from reenactor.train.fdgan_loss import generator_losses

    # The weighted reconstruction term: weights of one give the paper's MSE; a weighted one is
    # the weighted mean of the squared error.
    args = _one_pixel_error(1.0)  # error 1 on one pixel of four
    _, plain, _ = generator_losses(*args)
    _, ones, _ = generator_losses(*args, rec_weight=torch.ones(1, 1, 2, 2))
    w = torch.ones(1, 1, 2, 2)
    w[0, 0, 0, 0] = 9.0
    _, weighted, _ = generator_losses(*args, rec_weight=w)
    assert plain["rec"] == pytest.approx(0.25) and ones["rec"] == pytest.approx(0.25)
    assert weighted["rec"] == pytest.approx(9.0 / 12.0)

    lm_dir, cache = _synthetic_data(tmp_path)
    data = FD.build_crops(tmp_path / "no_data", lm_dir, cache, "mouth", SIZE, 160, lambda *_: None)
    ids = sorted({c["identity"] for c in data["clips"]})
    sampler = FD.PairSampler(data, ids, "mouth", 1, True, 0, closed_sources=True)
    rng = np.random.default_rng(0)
    for j in sampler.rows:
        members = sampler.members[int(data["clip"][j])]
        i = sampler.source_for(int(j), rng)
        assert data["opening"][i] <= np.quantile(data["opening"][members], FD.CLOSED_QUANTILE)

    first = tmp_path / "first"
    assert fdgan.run(_args(tmp_path, lm_dir, cache, "--steps", "1", "--out", str(first))) == 0
    assert fdgan.run(_args(tmp_path, lm_dir, cache, "--steps", "2", "--init", str(first / "ckpt.pt"),
                           "--inner-weight", "4", "--closed-sources")) == 0
    ck = torch.load(tmp_path / "out" / "ckpt.pt", map_location="cpu", weights_only=False)
    assert ck["state"]["step"] == 2 and ck["config"]["inner_weight"] == 4.0 and ck["config"]["closed_sources"]
    with pytest.raises(Exception, match="another architecture"):
        fdgan.run(_args(tmp_path, lm_dir, cache, "--steps", "1", "--init", str(first / "ckpt.pt"), "--variant", "adain",
                        "--out", str(tmp_path / "third")))


def test_hole_condition_cuts_out_the_target_opening():
    """--cond hole: grey inside the target's dilated inner lips, a fourth channel marking it, the warp elsewhere."""
    pts = _face(SIZE, 1.0)
    warped = np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 3), np.uint8)
    plain = L.mouth_condition(warped, pts, hole=False)
    np.testing.assert_array_equal(plain, L.to_unit(warped))
    cond = L.mouth_condition(warped, pts, hole=True)
    assert cond.shape == (4, SIZE, SIZE) and cond.dtype == np.float32
    hole = cond[3] > 0.5
    inner = L.inner_mouth_mask(pts, SIZE) > 0
    assert set(np.unique(cond[3])) == {0.0, 1.0}
    assert hole[inner].all() and hole.sum() > inner.sum()  # covers the opening and a dilated rim
    assert (cond[:3, hole] == 0).all()
    np.testing.assert_array_equal(cond[:3, ~hole], plain[:, ~hole])


def test_l1_adam_and_hole_train(tmp_path):
    """The options beyond the paper: L1 reconstruction, Adam, the hole condition; recorded in the checkpoint."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("reenactor.train.fdgan_net")
    from reenactor.train import fdgan
    from reenactor.train.fdgan_loss import generator_losses, make_optimizers

    args = _one_pixel_error(0.5)  # absolute error 0.5 on one pixel of four
    assert generator_losses(*args, rec="l1")[1]["rec"] == pytest.approx(0.125)
    assert generator_losses(*args)[1]["rec"] == pytest.approx(0.0625)
    net = torch.nn.Linear(2, 2)
    assert all(isinstance(o, torch.optim.Adam) for o in make_optimizers(net, net, net, kind="adam"))
    with pytest.raises(ValueError):
        make_optimizers(net, net, net, kind="sgd")

    lm_dir, cache = _synthetic_data(tmp_path)
    assert fdgan.run(_args(tmp_path, lm_dir, cache, "--steps", "2", "--cond", "hole", "--residual", "--rec", "l1",
                           "--optimizer", "adam", "--lr", "1e-4", "--export")) == 0
    ck = torch.load(tmp_path / "out" / "ckpt.pt", map_location="cpu", weights_only=False)
    assert ck["config"]["cond"] == "hole" and ck["config"]["cond_ch"] == 4
    assert ck["config"]["rec"] == "l1" and ck["config"]["optimizer"] == "adam"
    assert "exp_avg" in next(iter(ck["opt_g"]["state"].values()))
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(tmp_path / "out" / "fdgan_mouth_translator.onnx"), providers=["CPUExecutionProvider"])
    assert sess.get_modelmeta().custom_metadata_map["cond"] == "hole"  # the runtime builds the same condition
    card = json.loads((tmp_path / "out" / "fdgan_mouth.json").read_text())
    assert card["optimizer"].startswith("Adam") and card["config"]["rec"] == "l1"
    from reenactor.errors import InputError

    with pytest.raises(InputError, match="hole"):
        fdgan.config_of(_args(tmp_path, lm_dir, cache, "--region", "face", "--cond", "hole"), 3)



def test_ema_and_resumed_learning_rate(tmp_path):
    """--ema keeps a weight average that is checkpointed, resumed and exported;
    --lr on --resume replaces the checkpoint's rate, and without it the rate stays."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("reenactor.train.fdgan_net")
    pytest.importorskip("onnxruntime")
    from reenactor.train import fdgan

    lm_dir, cache = _synthetic_data(tmp_path)
    out = tmp_path / "out"
    base = ("--cond", "hole", "--residual", "--optimizer", "adam")
    assert fdgan.run(_args(tmp_path, lm_dir, cache, "--steps", "2", *base, "--lr", "1e-3", "--ema", "0.5")) == 0
    ck = torch.load(out / "ckpt.pt", map_location="cpu", weights_only=False)
    gen, ema = ck["gen"], ck["gen_ema"]
    moved = [k for k in gen if gen[k].dtype.is_floating_point and not torch.equal(gen[k], ema[k])]
    assert moved  # the average lags the trained weights
    assert ck["opt_g"]["param_groups"][0]["lr"] == pytest.approx(1e-3)

    assert fdgan.run(_args(tmp_path, lm_dir, cache, "--steps", "3", *base, "--resume")) == 0  # no --ema: kept
    ck2 = torch.load(out / "ckpt.pt", map_location="cpu", weights_only=False)
    assert ck2["opt_g"]["param_groups"][0]["lr"] == pytest.approx(1e-3)  # kept without --lr
    assert ck2["ema_decay"] == 0.5
    # one more step of the average, with the checkpoint's decay: ema3 = 0.5 * ema2 + 0.5 * gen3
    k = moved[0]
    assert torch.allclose(ck2["gen_ema"][k], 0.5 * ema[k] + 0.5 * ck2["gen"][k], atol=1e-6)

    assert fdgan.run(_args(tmp_path, lm_dir, cache, "--steps", "4", *base, "--ema", "0.5", "--resume", "--lr", "5e-5", "--export")) == 0
    ck3 = torch.load(out / "ckpt.pt", map_location="cpu", weights_only=False)
    assert ck3["opt_g"]["param_groups"][0]["lr"] == pytest.approx(5e-5)
    card = json.loads((out / "fdgan_mouth.json").read_text())
    assert card["ema_decay"] == 0.5 and card["lr_per_invocation"] == pytest.approx([1e-3, 1e-3, 5e-5])
    import onnxruntime as ort

    from reenactor.train.fdgan_net import FDGAN

    sess = ort.InferenceSession(str(out / "fdgan_mouth.onnx"), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {i.name: rng.uniform(-1, 1, [1, *i.shape[1:]]).astype(np.float32) for i in sess.get_inputs()}
    got = sess.run(None, feeds)[0]
    outs = {}
    for key in ("gen_ema", "gen"):
        g = FDGAN("fdgan", lm_ch=1, cond_ch=4, residual=True).eval()
        g.load_state_dict(ck3[key])
        with torch.no_grad():
            outs[key] = g(*(torch.from_numpy(feeds[i.name]) for i in sess.get_inputs())).numpy()
    assert np.abs(got - outs["gen_ema"]).max() < 1e-3  # the average is what ships
    assert np.abs(got - outs["gen"]).max() > np.abs(got - outs["gen_ema"]).max()


def test_adv_weight_zero_trains_on_reconstruction_only(tmp_path):
    """--adv-weight 0: the generator's loss is lambda_rec x reconstruction alone, the discriminator and
    classifier are left untrained (their step is skipped); the card says so."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("reenactor.train.fdgan_net")
    pytest.importorskip("onnxruntime")
    from reenactor.train import fdgan

    lm_dir, cache = _synthetic_data(tmp_path)
    out = tmp_path / "out"
    assert fdgan.run(_args(tmp_path, lm_dir, cache, "--steps", "2", "--adv-weight", "0", "--export")) == 0
    recs = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    train = [r for r in recs if r["kind"] == "train"]
    assert train and all(r["g_total"] == pytest.approx(fdgan.LAMBDAS["rec"] * r["g_rec"], rel=1e-5) for r in train)
    assert all(r["g_adv_d"] == 0 and np.isnan(r["dc_d"]) for r in train)
    ck = torch.load(out / "ckpt.pt", weights_only=False)
    torch.manual_seed(0)  # the run's seed: the networks as initialised
    _, disc0, cls0 = fdgan.build_models(ck["config"])
    for net, key in ((disc0, "disc"), (cls0, "cls")):
        assert all(torch.equal(v, ck[key][k]) for k, v in net.state_dict().items())
    gen0 = fdgan.build_models(ck["config"])[0]
    assert not all(torch.equal(v, ck["gen"][k]) for k, v in gen0.state_dict().items())
    card = json.loads((out / "fdgan_mouth.json").read_text())
    assert card["lambdas"] == {"rec": 50.0, "d": 0.0, "c": 0.0}


def test_learned_condition_trains_and_exports_its_metadata(tmp_path):
    """--cond learned: the sampler fills the hole with the shipped learned painter's mouth, given the
    source frame's cached whole-frame appearance; the exported translator says cond=learned."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from reenactor.render.mouth_learned import LearnedMouthPainter, painted_in_place
    from reenactor.train import fdgan
    from reenactor.train import fdgan_data as FD

    lm_dir, cache = _synthetic_data(tmp_path)
    data = FD.build_crops(tmp_path / "no_data", lm_dir, cache, "mouth", SIZE, 160, lambda *_: None)
    assert data["appearance"].shape == (len(data["opening"]), 6)
    ids = sorted({c["identity"] for c in data["clips"]})
    sampler = FD.PairSampler(data, ids, "mouth", 1, "learned", 0)
    j = int(sampler.rows[np.argmax(data["opening"][sampler.rows])])
    i = int(sampler.source_for(j, np.random.default_rng(0)))
    pair = sampler.pair(i, j)
    hole = pair["cond"][3] > 0.5
    assert pair["cond"].shape == (4, SIZE, SIZE) and hole.any()
    pj = data["points"][j].astype(np.float64)
    warped = L.warp_to_landmarks(data["crops"][i], data["points"][i].astype(np.float64), pj)
    expect = L.to_unit(painted_in_place(LearnedMouthPainter(data["appearance"][i]), warped, pj))
    np.testing.assert_allclose(pair["cond"][:3, hole], expect[:, hole], atol=1e-6)
    assert np.abs(pair["cond"][:3, hole]).mean() > 0.05  # painted, not the grey (0) hole
    np.testing.assert_array_equal(pair["cond"][:3, ~hole], pair["warp"][:, ~hole])
    assert fdgan.run(_args(tmp_path, lm_dir, cache, "--steps", "1", "--cond", "learned", "--residual", "--export")) == 0
    sess = ort.InferenceSession(str(tmp_path / "out" / "fdgan_mouth_translator.onnx"), providers=["CPUExecutionProvider"])
    assert sess.get_modelmeta().custom_metadata_map["cond"] == "learned"


def test_masked_ssim_is_the_evaluations_ssim_map_inside_the_mask():
    """fdgan_loss.masked_ssim reproduces skimage's SSIM map (7x7, RGB, data range 2) averaged inside a mask."""
    torch = pytest.importorskip("torch")
    from skimage.metrics import structural_similarity

    from reenactor.train.fdgan_loss import masked_ssim

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2, 3, 32, 32)).astype(np.float32)
    y = np.clip(x + rng.normal(0, 0.3, x.shape), -1, 1).astype(np.float32)
    mask = np.zeros((2, 32, 32), np.float32)
    mask[:, 6:26, 4:20] = 1.0  # away from the border, where the two pad differently
    mask[1, 10:14] = 0.0
    want = []
    for a, b, m in zip(x, y, mask):
        _, smap = structural_similarity(a.transpose(1, 2, 0), b.transpose(1, 2, 0), channel_axis=2, data_range=2.0,
                                        win_size=7, full=True)
        want.append((smap.mean(2) * m).sum())
    got = masked_ssim(torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(mask)).item()
    assert got == pytest.approx(sum(want) / mask.sum(), abs=1e-4)
    assert masked_ssim(torch.from_numpy(x), torch.from_numpy(x), torch.from_numpy(mask)).item() == pytest.approx(1.0, abs=1e-5)


def test_composite_error_sees_only_what_the_renderer_paints():
    """--loss composite: the output counts only through the renderer's blend mask, scored inside the inner lips."""
    torch = pytest.importorskip("torch")
    from reenactor.train.fdgan_loss import composite_error

    rng = np.random.default_rng(1)
    t = {k: torch.from_numpy(rng.uniform(-1, 1, (2, 3, 24, 24)).astype(np.float32)) for k in ("warp", "tgt_img")}
    blend = np.zeros((2, 24, 24), np.float32)
    blend[:, 8:16, 6:18] = 1.0
    mask = np.zeros((2, 24, 24), np.float32)
    mask[:, 6:18, 4:20] = 1.0
    b = t | {"blend": torch.from_numpy(blend), "mask": torch.from_numpy(mask)}
    fake = torch.zeros(2, 3, 24, 24, requires_grad=True)
    composite_error(fake, b).backward()
    g = fake.grad.abs().sum(1).numpy()
    assert (g[blend == 0] == 0).all() and (g[blend == 1] > 0).mean() > 0.9
    perfect = composite_error(b["tgt_img"] * 1.0, b | {"warp": b["tgt_img"]})
    assert perfect.item() == pytest.approx(0.0, abs=1e-5)


def test_composite_loss_shows_the_discriminator_mouths_as_rendered():
    """With --loss composite and adversarial terms, the discriminator and the classifier see real and
    generated crops blended over the same warp: outside the blend mask the two are identical, inside
    they differ, and the generator's adversarial gradient reaches only what the renderer paints."""
    torch = pytest.importorskip("torch")
    from reenactor.train import fdgan

    rng = np.random.default_rng(2)
    n, s = 2, 24
    img = lambda: torch.from_numpy(rng.uniform(-1, 1, (n, 3, s, s)).astype(np.float32))  # noqa: E731
    blend = np.zeros((n, s, s), np.float32)
    blend[:, 8:16, 6:18] = 1.0
    b = {"src_img": img(), "tgt_img": img(), "warp": img(), "src_lm": torch.zeros(n, 1, s, s), "tgt_lm": torch.zeros(n, 1, s, s),
         "ids": torch.zeros(n, dtype=torch.int64), "blend": torch.from_numpy(blend), "mask": torch.from_numpy(blend)}
    out = torch.zeros(n, 3, s, s, requires_grad=True)
    seen = []

    class Gen(torch.nn.Module):
        cond_ch = 0

        def forward(self, *args):
            return out * 1.0

    class Judge(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(()))

        def forward(self, x, lm=None):
            seen.append(x.detach().clone())
            m = (x * self.w).mean(1, keepdim=True)
            return torch.cat([m, -m], 1)  # (B, 2, H, W) patch logits

    nets = (Gen(), Judge(), Judge())
    opts = tuple(torch.optim.SGD(m.parameters(), lr=0.0) if list(m.parameters()) else None for m in nets)
    grads = []
    out.register_hook(lambda g: grads.append(g.abs().sum(1).numpy()))
    fdgan.train_step(nets, (torch.optim.SGD([out], lr=0.0), *opts[1:]), b, adv=1.0, composite=1.0)
    # generator step: disc(fake), cls(fake); discriminator step: disc(real), disc(fake), cls(real), cls(fake)
    assert len(seen) == 6
    real, fake = seen[2], seen[3]
    outside = torch.from_numpy(blend == 0)[:, None].expand(n, 3, s, s)
    assert torch.equal(real[outside], fake[outside]) and torch.equal(real[outside], b["warp"][outside])
    assert (real[~outside] - fake[~outside]).abs().min() > 0
    assert (grads[0][blend == 0] == 0).all() and (grads[0][blend == 1] > 0).all()


def test_composite_loss_trains_and_validates_as_rendered(tmp_path):
    """--loss composite trains (the config records it), the validation also scores the output blended
    as the renderer blends it, and a run without a condition is refused."""
    pytest.importorskip("torch")
    pytest.importorskip("reenactor.train.fdgan_net")
    from reenactor.errors import InputError
    from reenactor.train import fdgan

    lm_dir, cache = _synthetic_data(tmp_path)
    out = tmp_path / "out"
    args = _args(tmp_path, lm_dir, cache, "--steps", "2", "--residual", "--cond", "hole", "--rec", "l1", "--optimizer", "adam",
                 "--adv-weight", "0", "--loss", "composite", "--ssim-weight", "0.5", "--lr", "1e-3")
    assert fdgan.run(args) == 0
    recs = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    val = [r for r in recs if r["kind"] == "val"]
    assert len(val) == 2 and all(0 < r["val_comp_ssim"] <= 1 and r["val_comp_l1"] > 0 for r in val)
    assert val[0]["val_comp_l1"] != val[1]["val_comp_l1"]  # the blended output moved
    import torch

    cfg = torch.load(out / "ckpt.pt", weights_only=False)["config"]
    assert cfg["loss"] == "composite" and cfg["ssim_weight"] == 0.5
    with pytest.raises(InputError, match="needs --cond"):
        fdgan.config_of(_args(tmp_path, lm_dir, cache, "--region", "face", "--loss", "composite"), 3)


def test_init_from_a_run_with_another_identity_count(tmp_path):
    """--init across splits: generator and discriminator are loaded, the identity classifier (another
    number of classes) starts afresh and says so."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("reenactor.train.fdgan_net")
    from reenactor.train import fdgan

    lm_dir, cache = _synthetic_data(tmp_path)
    first = tmp_path / "first"
    assert fdgan.run(_args(tmp_path, lm_dir, cache, "--steps", "1", "--out", str(first))) == 0
    second = tmp_path / "second"
    args = _args(tmp_path, lm_dir, cache, "--steps", "0", "--val-identities", "2", "--init", str(first / "ckpt.pt"), "--out", str(second))
    assert fdgan.run(args) == 0
    a, b = (torch.load(d / "ckpt.pt", weights_only=False) for d in (first, second))
    assert a["config"]["n_ids"] == 3 and b["config"]["n_ids"] == 2
    for key in ("gen", "disc"):
        assert all(torch.equal(v, b[key][k]) for k, v in a[key].items())
    assert "starts afresh" in (second / "train.log").read_text()
    init = b["state"]["init"]
    assert init["step"] == 1 and init["commands"] == a["state"]["commands"] and init["config"] == a["config"]


def test_strength_scales_the_exported_change_and_auto_chooses_it(tmp_path):
    """--strength S exports a translator whose change (output minus condition) is S times the trained
    one; 'auto' scores 0.25..1 as rendered on first-frame pairs and records the choice on the card."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from reenactor.errors import InputError
    from reenactor.train import fdgan
    from reenactor.train.fdgan_net import FDGAN
    from reenactor.train.fdgan_validate import scaled

    g = FDGAN("fdgan", lm_ch=1, cond_ch=4, residual=True).eval()
    torch.nn.init.normal_(g.tr_up[0].weight, std=0.01)
    x = [torch.rand(1, c, 32, 32) * 0.5 for c in (3, 1, 1, 4)]
    with torch.no_grad():
        full, half = g(*x) - x[3][:, :3], scaled(g, 0.5)(*x) - x[3][:, :3]
    assert full.abs().max() > 1e-3 and torch.allclose(half, 0.5 * full, atol=1e-6)

    lm_dir, cache = _synthetic_data(tmp_path)
    out = tmp_path / "out"
    common = ("--steps", "2", "--residual", "--cond", "hole", "--rec", "l1", "--optimizer", "adam", "--lr", "1e-3", "--export")
    assert fdgan.run(_args(tmp_path, lm_dir, cache, *common, "--strength", "auto")) == 0
    card = json.loads((out / "fdgan_mouth.json").read_text())
    rows = card["strength"]["chosen_on"]["scores"]
    assert [r["strength"] for r in rows] == [0.0, 0.25, 0.5, 0.75, 1.0]
    best = max(rows[1:], key=lambda r: (round(r["ssim"], 4), -r["l1"]))
    assert card["strength"]["strength"] == best["strength"]
    import onnxruntime as ort

    out = tmp_path / "half"  # the same schedule, exported at half strength
    assert fdgan.run(_args(tmp_path, lm_dir, cache, *common, "--strength", "0.5", "--out", str(out))) == 0
    assert json.loads((out / "fdgan_mouth.json").read_text())["strength"] == {"strength": 0.5}
    sess = ort.InferenceSession(str(out / "fdgan_mouth.onnx"), providers=["CPUExecutionProvider"])
    feeds = {i.name: np.random.default_rng(0).uniform(-1, 1, [1, *i.shape[1:]]).astype(np.float32) for i in sess.get_inputs()}
    feeds["cond"] = feeds["cond"] * 0.5
    trained = FDGAN("fdgan", lm_ch=1, cond_ch=4, residual=True).eval()
    trained.load_state_dict(torch.load(out / "ckpt.pt", weights_only=False)["gen"])
    with torch.no_grad():
        change = trained(*(torch.from_numpy(feeds[i.name]) for i in sess.get_inputs())).numpy() - feeds["cond"][:, :3]
    got = sess.run(None, feeds)[0] - feeds["cond"][:, :3]
    assert np.abs(change).max() > 2e-4 and np.abs(got - 0.5 * change).max() < 0.05 * np.abs(change).max()
    with pytest.raises(InputError, match="number or 'auto'"):
        fdgan.run(_args(tmp_path, lm_dir, cache, *common, "--strength", "half", "--out", str(tmp_path / "b")))
    assert not (tmp_path / "b" / "ckpt.pt").exists()  # refused before training, not after
    with pytest.raises(InputError, match="residual"):
        fdgan.run(_args(tmp_path, lm_dir, cache, "--steps", "1", "--export", "--strength", "0.5", "--out", str(tmp_path / "c")))


def test_hint_condition_adds_the_driver_layout_and_starts_from_a_learned_run(tmp_path):
    """--cond hint: the learned condition plus the two hint channels (the target's own layout, jittered,
    in some batch pairs; none in fixed pairs); --init from a --cond learned run widens the translator's
    first convolution with zero weights, so the hint starts out ignored; the export says cond=hint."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from reenactor.train import fdgan
    from reenactor.train import fdgan_data as FD

    lm_dir, cache = _synthetic_data(tmp_path)
    data = FD.build_crops(tmp_path / "no_data", lm_dir, cache, "mouth", SIZE, 160, lambda *_: None)
    ids = sorted({c["identity"] for c in data["clips"]})
    hinted, learned = (FD.PairSampler(data, ids, "mouth", 1, c, 0) for c in ("hint", "learned"))
    j = int(hinted.rows[np.argmax(data["opening"][hinted.rows])])
    i = int(hinted.source_for(j, np.random.default_rng(0)))
    bare = hinted.pair(i, j)
    assert bare["cond"].shape == (6, SIZE, SIZE) and not bare["cond"][4:].any()
    np.testing.assert_array_equal(bare["cond"][:4], learned.pair(i, j)["cond"])
    drawn = [hinted.pair(i, j, hint_rng=np.random.default_rng(s))["cond"] for s in range(8)]
    given = [c for c in drawn if c[5].any()]
    assert 0 < len(given) < 8
    assert all(c[4][c[5] > 0].mean() < 0 for c in given)  # the synthetic mouths are dark inside
    assert hinted.batch(6)["cond"].shape == (6, 6, SIZE, SIZE)

    first, second = tmp_path / "first", tmp_path / "second"
    assert fdgan.run(_args(tmp_path, lm_dir, cache, "--steps", "1", "--cond", "learned", "--residual", "--out", str(first))) == 0
    args = _args(tmp_path, lm_dir, cache, "--steps", "0", "--cond", "hint", "--residual", "--init", str(first / "ckpt.pt"),
                 "--out", str(second))
    assert fdgan.run(args) == 0
    a, b = (torch.load(d / "ckpt.pt", weights_only=False) for d in (first, second))
    key = "tr_down.levels.0.0.weight"
    assert a["gen"][key].shape[1] == 5 and b["gen"][key].shape[1] == 7
    assert torch.equal(b["gen"][key][:, :5], a["gen"][key]) and not b["gen"][key][:, 5:].any()
    assert all(torch.equal(v, b["gen"][k]) for k, v in a["gen"].items() if k != key)
    args = _args(tmp_path, lm_dir, cache, "--steps", "1", "--cond", "hint", "--residual", "--resume", "--out", str(second), "--export")
    assert fdgan.run(args) == 0
    sess = ort.InferenceSession(str(second / "fdgan_mouth_translator.onnx"), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[-1].name == "cond" and sess.get_inputs()[-1].shape[1] == 6
    assert sess.get_modelmeta().custom_metadata_map["cond"] == "hint"
    with pytest.raises(Exception, match="architecture"):
        fdgan.run(_args(tmp_path, lm_dir, cache, "--steps", "0", "--cond", "hole", "--residual", "--init", str(first / "ckpt.pt"),
                        "--out", str(tmp_path / "third")))


def test_a_fresh_run_of_zero_steps_exports_with_its_command(tmp_path):
    """--init ... --steps 0 --export (export a warm start untouched) records its command on the card
    (it used to fail: only runs that train were recorded, and the card takes the first)."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from reenactor.train import fdgan

    lm_dir, cache = _synthetic_data(tmp_path)
    first, second = tmp_path / "first", tmp_path / "second"
    assert fdgan.run(_args(tmp_path, lm_dir, cache, "--steps", "1", "--out", str(first))) == 0
    assert fdgan.run(_args(tmp_path, lm_dir, cache, "--steps", "0", "--init", str(first / "ckpt.pt"), "--out", str(second), "--export")) == 0
    card = json.loads((second / "fdgan_mouth.json").read_text())
    assert card["steps"] == 0 and card["command"] and card["resumed_with"] == [] and card["init"]["step"] == 1
