"""FD-GAN ablation evaluation (issue 16): the Frechet distance, the split check, the paper's numbers, the script's errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reenactor.errors import InputError
from reenactor.train import fdgan_ablation as A

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT.parent / "shared" / "papers" / "one-shot-identity-preserving-portrait-reenactment.txt"


def test_frechet_identical_gaussians_is_zero():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8))
    assert abs(A.descriptor_fd(x, x.copy())) < 1e-6
    cov = np.cov(x, rowvar=False)
    assert abs(A.frechet_distance(x.mean(0), cov, x.mean(0), cov)) < 1e-6


def test_frechet_shifted_mean_is_squared_shift():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 8)) @ rng.normal(size=(8, 8))
    d = rng.normal(size=8)
    assert A.descriptor_fd(x, x + d) == pytest.approx(float(d @ d), rel=1e-6, abs=1e-6)
    # diagonal case by hand: N(0, 1) vs N(0, 4) in 1-D -> 1 + 4 - 2 * 2 = 1
    assert A.frechet_distance(np.zeros(1), np.eye(1), np.zeros(1), 4 * np.eye(1)) == pytest.approx(1.0)


def test_frechet_singular_covariances_stay_finite_and_nan_rows_are_dropped():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(5, 16)), rng.normal(size=(5, 16))  # rank 4 in 16 dims
    assert np.isfinite(A.descriptor_fd(a, b))
    a[0] = np.nan
    assert np.isfinite(A.descriptor_fd(a, b))
    assert np.isnan(A.descriptor_fd(a[:2], b))


def _run(name, val=("a", "b"), train=("c", "d"), region="face", size=128):
    split = {"train": list(train), "val": list(val), "train_clips": [f"{t}_1" for t in train], "val_clips": [f"{v}_1" for v in val]}
    return {"name": name, "path": f"/runs/{name}", "ck": {"config": {"variant": name, "region": region, "size": size}, "split": split}}


def test_same_split_is_accepted_and_duplicate_names_made_unique():
    runs = [_run("fdgan"), _run("fdgan1"), _run("fdgan")]
    assert A.check_same_split(runs)["val"] == ["a", "b"]
    assert len({r["name"] for r in runs}) == 3


@pytest.mark.parametrize("other", [_run("adain", val=("a", "x")), _run("adain", train=("c",)), _run("adain", size=64)])
def test_split_or_crop_mismatch_is_refused(other):
    with pytest.raises(InputError, match="differ"):
        A.check_same_split([_run("fdgan"), other])
    with pytest.raises(InputError):
        A.check_same_split([])


def test_identity_scores_and_markdown_on_synthetic_descriptors():
    rng = np.random.default_rng(3)
    src = rng.normal(size=(10, 128)) * 0.05
    pred = src + 0.01
    pred[0] = np.nan
    s = A.identity_scores(pred, src)
    assert s["id_pairs"] == 9 and s["id_under_0.6"] == 1.0 and s["id_dist"] == pytest.approx(np.sqrt(128) * 0.01)
    m = {"ssim_oval": 0.5, "ssim_crop": 0.6, "l1_oval": 0.1, "l1_crop": 0.1, **s, "fd_dlib": 0.2, "dlib_found": 0.9}
    result = {"pairs": 10, "seed": 0, "dlib_upscale": 256, "held_out_identities": 2, "held_out_clips": 2, "fd_floor_halves": 0.1,
              "variants": {"fdgan": {"steps": 5, "train_seconds": 60.0, "metrics": m}}, "references": {"source": m, "target": m},
              "paper_table3": A.PAPER_TABLE3}
    table = A.markdown(result)
    assert "| fdgan | 5 | 1.0 | 0.500 |" in table and "FID 55.19" in table and "(halves)" in table


@pytest.mark.skipif(not PAPER.is_file(), reason="../shared papers not present")
def test_quoted_table3_matches_the_paper():
    text = PAPER.read_text(encoding="utf-8")
    for name, t in A.PAPER_TABLE3.items():
        line = next(ln for ln in text.splitlines() if ln.startswith(name) and "N/A" in ln)
        nums = [float(v) for v in re.findall(r"\d+\.\d+", line)]
        assert nums == [t["cross"]["ISIM"], t["cross"]["FID"], t["self"]["ISIM"], t["self"]["SSIM"], t["self"]["FID"]], name


def test_dlib_descriptors_of_a_blank_image_are_nan():
    from reenactor.eval.dlibface import dlib_available

    if not dlib_available():
        pytest.skip("dlib not installed")
    from reenactor.eval.dlibface import DlibFace

    d = A.descriptors(DlibFace(), np.zeros((1, 3, 32, 32), np.float32), upscale=64)
    assert d.shape == (1, 128) and np.isnan(d).all()


def test_script_bad_input_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "run"
    bad.mkdir()
    (bad / "ckpt.pt").write_text("not a checkpoint")
    for runs in ([str(tmp_path / "missing")], [str(bad)]):
        p = subprocess.run([sys.executable, str(ROOT / "scripts" / "fdgan_ablation.py"), "--runs", *runs, "--no-dlib"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 2, p.stderr
        assert p.stderr.startswith("error: ") and len(p.stderr.strip().splitlines()) == 1, p.stderr
