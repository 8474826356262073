"""Shared fixtures: the astronaut portrait, a prepared pipeline, and ../shared data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reenactor.bench import find_shared_data


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def reenactor():
    from reenactor.api import Reenactor

    return Reenactor()


@pytest.fixture(scope="session")
def prepared(reenactor, astronaut):
    return reenactor.prepare(astronaut)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = find_shared_data()
    if path is None:
        pytest.skip("../shared/data is not present (real-data tier)")
    return path


def turned(points: np.ndarray, yaw: float) -> np.ndarray:
    """(478, 3) landmarks turned by ``yaw`` degrees about their head centre (the stable points' mean)."""
    from reenactor.face import topology as T
    from reenactor.face.pose import rotation_from_euler

    c = points[list(T.STABLE_POINTS)].mean(0)
    return (points - c) @ rotation_from_euler(yaw, 0.0, 0.0).T + c


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the golden frames under tests/golden/ from the current code instead of comparing",
    )


@pytest.fixture(scope="session")
def update_golden(request) -> bool:
    return bool(request.config.getoption("--update-golden"))
