"""The configuration checks itself; every field is used."""

from __future__ import annotations

import re
from dataclasses import fields, replace
from pathlib import Path

import pytest

from reenactor.config import ConfigError, ReenactorConfig

SRC = Path(__file__).resolve().parents[1] / "src" / "reenactor"


@pytest.mark.parametrize(
    "section, change",
    [
        ("render", {"mouth": "teeth"}),
        ("render", {"work_size": 513}),
        ("render", {"work_size": 64}),
        ("render", {"neck_follow": 1.5}),
        ("render", {"seam_gap_start": 3.0}),
        ("render", {"lash_line_start": 0.99}),
        ("retarget", {"mode": "sideways"}),
        ("retarget", {"min_ratio": 2.0}),
        ("retarget", {"reference_frame": -1}),
        ("detection", {"max_faces": 0}),
        ("detection", {"min_detection_confidence": 1.0}),
        ("smoothing", {"min_cutoff": 0.0}),
        ("output", {"crf": 52}),
        ("output", {"preset": "quick"}),
        ("output", {"max_size": -1}),
    ],
)
def test_bad_values_are_refused(section, change):
    cfg = ReenactorConfig()
    with pytest.raises(ConfigError) as err:
        replace(getattr(cfg, section), **change)
    assert next(iter(change)) in str(err.value) and "\n" not in str(err.value)


def test_defaults_are_valid_and_top_level_checked():
    ReenactorConfig()
    with pytest.raises(ConfigError):
        ReenactorConfig(max_image_side=8)


def test_no_dead_fields():
    """Every configuration field is read somewhere outside config.py."""
    code = "\n".join(p.read_text() for p in SRC.rglob("*.py") if p.name != "config.py")
    cfg = ReenactorConfig()
    for section in [cfg] + [getattr(cfg, f.name) for f in fields(cfg) if hasattr(getattr(cfg, f.name), "__dataclass_fields__")]:
        for f in fields(section):
            if hasattr(getattr(section, f.name), "__dataclass_fields__"):
                continue
            assert re.search(rf"\.{f.name}\b", code), f"{type(section).__name__}.{f.name} is never read as an attribute"


def test_config_reference_frame_is_the_default(reenactor, prepared):
    import numpy as np

    from reenactor.api import Reenactor

    cfg = ReenactorConfig()
    r = Reenactor(replace(cfg, retarget=replace(cfg.retarget, reference_frame=3)))
    lm = np.repeat(prepared.landmarks[None], 6, axis=0)
    found = np.ones(6, bool)
    choice = r.choose_reference(lm, found, (512, 512), prepared)
    assert choice.index == 3 and choice.rule == "given"


def test_cli_options_come_from_the_configuration():
    """Help and default of each configuration option are the config's own; _config applies them."""
    from reenactor.cli import CONFIG_OPTIONS, _config, build_parser

    cfg = ReenactorConfig()
    sub = build_parser()._subparsers._group_actions[0].choices["animate"]
    helps = {a.option_strings[0]: a.help for a in sub._actions if a.option_strings}
    for flag, section, name, kind in CONFIG_OPTIONS:
        assert helps[flag] and len(helps[flag]) > 20, flag
        if kind.get("action") != "store_true":
            assert f"(default: {getattr(getattr(cfg, section), name)})" in helps[flag]
    args = build_parser().parse_args(["demo", "--work-size", "384", "--mouth", "off", "--retarget", "ldnet",
                                      "--background", "warp", "--max-size", "0", "--watermark"])
    got = _config(args)
    assert (got.render.work_size, got.render.mouth, got.retarget.method, got.render.background) == (384, "off", "ldnet", "warp")
    assert got.output.max_size == 0 and got.output.watermark
    assert _config(build_parser().parse_args(["demo"])) == cfg
