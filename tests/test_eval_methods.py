"""Fast tests of the method adapters: the pipeline runs with the user's defaults; reenactor-ref0 with frame 0."""

from __future__ import annotations

import numpy as np
import pytest

from reenactor.errors import InputError
from reenactor.eval.methods import REF0, make_methods, pipeline_available

pytestmark = pytest.mark.skipif(not pipeline_available(), reason="reenactor.api cannot be imported")


@pytest.mark.parametrize("protocol", ["self", "cross"])
def test_pipeline_runs_with_default_arguments_and_ref0_with_frame_0(protocol, monkeypatch):
    default, ref0 = make_methods(["reenactor", REF0])
    assert (default.name, ref0.name) == ("reenactor", REF0)
    seen = []

    def fake(self_impl, portrait, frames, **kw):
        seen.append(kw)
        return [portrait for _ in frames]

    for m in (default, ref0):
        monkeypatch.setattr(type(m._impl), "animate_frames", fake)
        img = np.zeros((8, 8, 3), np.uint8)
        out = m.generate(img, [img] * 3, 25.0, protocol)
        assert len(out) == 3
    assert seen[0]["reference_frame"] is None and seen[1]["reference_frame"] == 0
    assert all(kw["motion"] == "relative" and kw["crop"] is False for kw in seen)


def test_unknown_method_names_the_ref0_variant():
    with pytest.raises(InputError, match=REF0):
        make_methods(["reenactor-nope"])


def test_variants_are_the_pipeline_with_config_overrides():
    """``reenactor eval --variant NAME=JSON``: the dev-half experiments of docs/benchmarks.md by command."""
    import argparse

    from reenactor.errors import InputError
    from reenactor.eval.cli import _variant
    from reenactor.eval.methods import make_methods, variant_config

    name, overrides = _variant('g13={"retarget": {"gain": {"mouth": 1.3}}, "smoothing": {"min_cutoff": 25.0}}')
    assert name == "g13" and overrides["retarget"]["gain"] == {"mouth": 1.3}
    cfg = variant_config(overrides)
    assert cfg.retarget.gain == {"mouth": 1.3} and cfg.smoothing.min_cutoff == 25.0
    (method,) = make_methods(["g13"], {"g13": overrides})
    assert method.name == "g13" and method._impl.config.retarget.gain == {"mouth": 1.3}
    for bad, match in (({"retargt": {}}, "unknown config section"), ({"retarget": {"gainz": 1}}, "unknown retarget field"),
                       ({"retarget": {"gain": {"mouth": 9.0}}}, "variant:")):
        with pytest.raises(InputError, match=match):
            variant_config(bad)
    for text in ("g13", "g13=[1]", "g13={not json"):
        with pytest.raises(argparse.ArgumentTypeError):
            _variant(text)
