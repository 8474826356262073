"""Fast tests of the per-item wins against naive2d, win rates per half, and the report sections built on them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from reenactor.eval import winrate as W

NAN = float("nan")


def test_compare_directions_tolerance_and_missing_values():
    assert W.compare(30.0, 29.0, "+", 0.05) == "win"
    assert W.compare(29.0, 30.0, "+", 0.05) == "loss"
    assert W.compare(30.02, 30.0, "+", 0.05) == "tie"
    assert W.compare(1.5, 2.0, "-", 0.01) == "win"  # lower AKD wins
    assert W.compare(2.0, 1.5, "-", 0.01) == "loss"
    assert W.compare(1.0, 1.0, "+", 1e-9) == "tie"  # both verify every frame
    assert W.compare(NAN, 1.0, "+", 0.0) is None
    assert W.compare(1.0, None, "+", 0.0) is None


def test_item_wins_skip_baseline_and_bounds_and_use_amplitude_error():
    metrics = {
        "static": {"id_verify": 1.0},
        "driver": {"id_verify": 0.0},
        "naive2d": {"id_verify": 0.9, "mouth_open_corr": 0.80, "jitter": 2.0, "amp_mouth_open": 0.5, "amp_eye_open": 1.1},
        "reenactor": {"id_verify": 0.9, "mouth_open_corr": 0.70, "jitter": 1.0, "amp_mouth_open": 1.9, "amp_eye_open": NAN},
    }
    w = W.item_wins("cross", metrics)
    assert set(w) == {"reenactor"}
    r = w["reenactor"]
    assert r["id_verify"] == "tie" and r["mouth_open_corr"] == "loss" and r["jitter"] == "win"
    assert r["amp_err_mouth_open"] == "win"  # |log 1.9| = 0.64 < |log 0.5| = 0.69
    assert r["amp_err_eye_open"] is None and r["id_leak"] is None
    assert W.item_wins("cross", {"reenactor": {"id_verify": 1.0}}) == {}  # no baseline on the item


def test_win_rates_count_ties_as_not_won():
    items = [
        {"reenactor": {"psnr": "win", "akd": "loss"}},
        {"reenactor": {"psnr": "tie", "akd": "win"}},
        {"reenactor": {"psnr": "win", "akd": None}},
        {"reenactor": {"psnr": "loss", "akd": "win"}},
    ]
    r = W.win_rates("self", items)["reenactor"]
    assert (r["psnr"]["win"], r["psnr"]["tie"], r["psnr"]["loss"], r["psnr"]["n"]) == (2, 1, 1, 4)
    assert r["psnr"]["rate"] == pytest.approx(0.5)
    assert r["akd"]["n"] == 3 and r["akd"]["rate"] == pytest.approx(2 / 3)
    assert r["all"]["n"] == 7 and r["all"]["win"] == 4
    assert math.isnan(r["ssim"]["rate"]) and r["ssim"]["n"] == 0


def _result(name, protocol, half, metrics):
    from reenactor.eval.runner import ItemResult

    info = {"name": name, "protocol": protocol, "half": half, "portrait": "p", "driver": "d", "why": "w", "frames": 3,
            "fps": 25.0, "driver_size": [8, 8], "portrait_size": [8, 8], "has_audio": False}
    speed = {m: {"seconds": 1.0, "frames": 3, "fps": 3.0, "peak_rss_mb": 1.0, "rss_rise_mb": 0.0} for m in metrics}
    return ItemResult(info=info, metrics=metrics, speed=speed, strip=np.zeros((16, 16, 3), np.uint8))


def test_results_document_reports_halves_side_by_side(tmp_path):
    from reenactor.eval.report import results_document, write_html, write_json, write_markdown

    methods = ["static", "naive2d", "reenactor", "reenactor-ref0"]
    results = [
        _result("a", "self", "dev", {"static": {"psnr": 20.0, "akd": 9.0}, "naive2d": {"psnr": 22.0, "akd": 2.0, "amp_mouth_open": 0.5},
                                     "reenactor": {"psnr": 23.0, "akd": 1.9, "amp_mouth_open": 0.9}, "reenactor-ref0": {"psnr": 23.0, "akd": 1.85}}),
        _result("b", "self", "check", {"naive2d": {"psnr": 22.0, "akd": 2.0}, "reenactor": {"psnr": 21.0, "akd": 2.5, "amp_mouth_open": 1.1},
                                       "reenactor-ref0": {"psnr": 21.5, "akd": 2.2}}),
        _result("c", "self", "check", {"naive2d": {"psnr": 22.0, "akd": 2.0}, "reenactor": {"psnr": 22.01, "akd": 1.0, "amp_mouth_open": 1.3},
                                       "reenactor-ref0": {"psnr": 22.0, "akd": 1.1}}),
    ]
    doc = results_document(results, methods, {"protocol": "self", "max_frames": 3, "id_stride": 1, "data_dir": "d"})
    assert set(doc["halves"]) == {"dev", "check"}
    assert doc["halves"]["check"]["self"]["items"] == 2
    assert doc["halves"]["check"]["self"]["methods"]["reenactor"]["psnr"] == pytest.approx(21.505)
    wr = doc["winrates"]["check"]["self"]["reenactor"]
    assert (wr["psnr"]["win"], wr["psnr"]["tie"], wr["psnr"]["loss"]) == (0, 1, 1)
    assert (wr["akd"]["win"], wr["akd"]["loss"]) == (1, 1) and wr["akd"]["rate"] == 0.5
    assert doc["winrates"]["dev"]["self"]["reenactor"]["psnr"]["rate"] == 1.0
    assert doc["winrates"]["all"]["self"]["reenactor"]["psnr"]["n"] == 3
    amp = doc["amplitude"]["check"]["self"]["reenactor"]["mouth_open"]
    assert amp["median"] == pytest.approx(1.2) and amp["n"] == 2 and amp["in_target"] == 0.5
    assert doc["criteria"]["check"]["self_akd_default_minus_ref0"] == pytest.approx(((2.5 - 2.2) + (1.0 - 1.1)) / 2)
    assert doc["items"][1]["wins"]["reenactor"]["psnr"] == "loss" and doc["items"][1]["half"] == "check"
    write_json(doc, tmp_path / "results.json")
    assert json.loads((tmp_path / "results.json").read_text())["winrates"]["dev"]["self"]["reenactor"]["akd"]["win"] == 1
    write_html(doc, results, methods, tmp_path / "report.html")
    text = (tmp_path / "report.html").read_text()
    assert "PSNR dB dev" in text and "PSNR dB check" in text and "dev (1 items) | check (2 items)" in text
    assert "win rates against naive2d" in text and "0% 0-1-1" in text
    assert "expression amplitude ratio" in text and "1.20 (2, 50%)" in text
    md = tmp_path / "benchmarks.md"
    write_markdown(doc, results, methods, md, tmp_path / "benchmarks", (), "make")
    page = md.read_text()
    assert "## Dev and check halves" in page and "seed 13" in page
    assert "| reenactor | check | " in page and "1.20 (2, 50%)" in page
    assert "+0.100" in page  # AKD(default) - AKD(ref0) on the check half
