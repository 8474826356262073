"""A portrait prepared under one configuration, rendered under another (issue 15's two measured cases)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from reenactor.api import Reenactor
from reenactor.config import ReenactorConfig
from reenactor.errors import InputError
from reenactor.motion.templates import template


def _renderer(**render) -> Reenactor:
    cfg = ReenactorConfig()
    return Reenactor(replace(cfg, render=replace(cfg.render, **render)))


@pytest.mark.parametrize("render", [{"work_size": 384}, {"background": "warp", "eyes": False}])
def test_other_configuration_draws_like_a_fresh_preparation(astronaut, render):
    default = Reenactor()
    shared = default.prepare(astronaut)
    list(default.animate_params(shared, template("demo", 25.0)[:2], crop_output=True))  # fill its caches
    list(default.animate_params(shared, template("demo", 25.0)[:2], crop_output=False))
    other = _renderer(**render)
    params = template("demo", 25.0)[30:32]
    for crop in (True, False):
        got = list(other.animate_params(shared, params, crop_output=crop))
        want = list(other.animate_params(other.prepare(astronaut), params, crop_output=crop))
        for g, w in zip(got, want):
            assert g.shape == w.shape
            assert np.array_equal(g, w)
    if "work_size" in render:
        assert got[0].shape[:2] == astronaut.shape[:2] and want[0].shape == astronaut.shape
        crop = next(iter(other.animate_params(shared, params, crop_output=True)))
        assert crop.shape[:2] == (384, 384)


def test_render_refuses_a_portrait_of_another_configuration(astronaut):
    shared = Reenactor().prepare(astronaut)
    other = _renderer(work_size=384)
    with pytest.raises(InputError, match="work_size"):  # targets in the 512 crop cannot be drawn in a 384 one
        other.render(shared, shared.crop_landmarks)
    bound = other.bind(shared)
    assert bound is other.bind(shared) and bound.crop_image.shape[:2] == (384, 384)
    assert other.render(bound, bound.crop_landmarks, crop_output=True).shape[:2] == (384, 384)
