"""Real tier: the shipped LD-Net's identity code on held-out people of ../shared/data."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.real

N_CLIPS = 4
FRAMES = 30


@pytest.fixture(scope="module")
def held_out(shared_data, tmp_path_factory):
    """A small landmark cache of held-out test clips (different people), as a LandmarkSet."""
    from reenactor.train.landmark_cache import build_cache
    from reenactor.train.ldnet_data import load_set
    from reenactor.weights import weight_card

    card = weight_card("ldnet")
    cache = tmp_path_factory.mktemp("ldnet_cache")
    recs = build_cache(shared_data, cache, max_frames=FRAMES, clips=card["data"]["test"])
    by_person: dict[str, object] = {}
    for r in recs:
        if r.found >= 10 and r.identity not in by_person:
            by_person[r.identity] = r
    chosen = list(by_person.values())[:N_CLIPS]
    assert len(chosen) >= 2
    return load_set(cache, chosen)


def test_identity_code_same_person_closer_than_different(held_out):
    from reenactor.motion.ldnet import LDNetModel
    from reenactor.train.ldnet_bench import identity_separation

    sep = identity_separation(held_out, LDNetModel("ldnet"), n_frames=FRAMES)
    assert sep["same"] < sep["different"]


def test_identity_code_separates_synthetic_identities(held_out):
    """Benchmark data: one real sequence under two identity changes."""
    from reenactor.motion.ldnet import LDNetModel, normalise
    from reenactor.train.ldnet_data import deform_numpy, sample_identity_params
    from reenactor.train.ldnet_bench import BENCH_SEED

    model = LDNetModel("ldnet")
    params = sample_identity_params(np.random.default_rng(BENCH_SEED), 2)
    rows = np.flatnonzero(held_out.clip == 0)
    codes = []
    for j in (0, 1):
        lm = deform_numpy(held_out, rows, params, np.full(len(rows), j))
        codes.append(model.identity(np.stack([normalise(x)[0] for x in lm])))
    b, c = codes
    same = np.linalg.norm(b[:, None] - b[None], axis=-1)[~np.eye(len(b), dtype=bool)].mean()
    cross = np.linalg.norm(b[:, None] - c[None], axis=-1)
    cross = cross[~np.eye(len(b), dtype=bool)].mean()  # different frame and different identity
    assert same < cross
