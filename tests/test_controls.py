"""Control of driving (issue 17 item 2): gains, pose scale and offsets, pose mode.

Tolerances are the figures of ``scripts/measure_controls.py --generated``
(astronaut driven by itself talking, 100 frames; README "Controlling the
motion"), loosened for the 25 frames run here: in the target landmarks
``--gain mouth=1.5`` opens the mouth 1.50x as far beyond the portrait's own
opening, ``--pose-offset yaw=10`` turns the head 10.0 deg, ``--pose portrait``
leaves < 0.01 deg of head motion and ``--pose-scale 0.5`` halves the yaw
spread (0.50). Read back from the rendered frames (mediapipe on the output):
mouth 1.35x, yaw +7.5 deg (the 2D warp of a turn reads ~0.76 of it), head
spread in portrait mode 1.2 / 3.2 / 0.6 deg (yaw / pitch / roll) against
5.2 / 7.5 / 0.8 following the driver, mouth spread 0.95 of the default (with the
talk built through A, issue 17 item 1; with the hand-built talk 1.40x, 7.6 deg,
1.1 / 1.7 / 0.7 against 5.9 / 5.2 / 0.8 and 0.96: mediapipe reads A's open
mouth as a downward pitch, see test_controls_read_back_from_rendered_frames).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from reenactor.api import Reenactor, animate_template
from reenactor.cli import _config, build_parser, main
from reenactor.config import ConfigError, ReenactorConfig, RetargetConfig
from reenactor.face.landmarks import LandmarkDetector
from reenactor.face.pose import euler_degrees, fit_similarity
from reenactor.io.video import iter_frames
from reenactor.motion.controls import control_params, region_weights
from reenactor.motion.params import measure
from reenactor.motion.retarget import Retargeter
from reenactor.motion.templates import MotionParams
from reenactor.pipeline import ListSink, StillSource, TrackedSource, run

FRAMES = 25


@pytest.fixture(scope="module")
def talk(tmp_path_factory, reenactor, prepared):
    """The astronaut talking (a built-in motion), as driver frames."""
    path = tmp_path_factory.mktemp("controls") / "talk.mp4"
    animate_template(reenactor, prepared, "talk", path, fps=25, max_frames=FRAMES)
    return list(iter_frames(path))


def _angles(lms, own) -> np.ndarray:
    """(N, 3) yaw, pitch, roll (deg) of each landmark set's stable-point rotation from ``own``."""
    return np.array([euler_degrees(fit_similarity(own, lm).rotation) for lm in lms])


def _spread(v, axis=0):
    return np.percentile(v, 90, axis=axis) - np.percentile(v, 10, axis=axis)


def _over_own(lms, own) -> float:
    """How far the mouth opens beyond ``own``'s (90th percentile of the gap minus own gap, IOD units)."""
    return float(np.percentile([measure(lm)["mouth_open"] for lm in lms], 90) - measure(own)["mouth_open"])


def _targets(prepared, track, **changes) -> list[np.ndarray]:
    rt = Retargeter(prepared.crop_landmarks, track.landmarks[track.reference], replace(RetargetConfig(), **changes))
    return [rt(lm) for lm in track.landmarks]


def _rendered(prepared, frames, **changes):
    r = Reenactor(replace(ReenactorConfig(), retarget=replace(RetargetConfig(), **changes)))
    sink = ListSink()
    run(r, prepared, TrackedSource(frames, 25.0), sink, crop_output=True)
    det = LandmarkDetector(static_image_mode=False)
    found = [lm for f in sink.frames if (lm := det.detect(f)) is not None]
    det.close()
    assert len(found) == len(frames)
    return found


@pytest.fixture(scope="module")
def track(reenactor, prepared, talk):
    t = reenactor.track(talk, 25.0, portrait=prepared)
    yield t
    t.close()


def test_cli_options_reach_the_configuration():
    args = build_parser().parse_args(["animate", "-s", "a.png", "-o", "b.mp4", "--gain", "mouth=1.3", "--gain", "eyes=0.8",
                                      "--pose-offset", "yaw=10", "--pose-offset", "pitch=-5", "--pose", "portrait",
                                      "--pose-scale", "0.5", "--expression-scale", "1.2", "--max-reveal", "0"])
    rc = _config(args).retarget
    assert rc.gain == {"mouth": 1.3, "eyes": 0.8} and rc.pose_offset == {"yaw": 10.0, "pitch": -5.0}
    assert (rc.pose, rc.pose_scale, rc.expression_gain, rc.max_reveal) == ("portrait", 0.5, 1.2, 0.0)
    assert RetargetConfig().pose == "auto" and RetargetConfig().gain == {} and RetargetConfig().pose_offset == {}


@pytest.mark.parametrize("flags, expect", [(["--gain", "nose=2"], "unknown name 'nose' (known: mouth, eyes, brows, gaze)"),
                                           (["--pose-offset", "tilt=3"], "unknown name 'tilt'"),
                                           (["--pose-offset", "yaw=120"], "must be in [-90.0, 90.0]"),
                                           (["--pose-scale", "-1"], "pose_scale must be in"),
                                           (["--max-reveal", "-2"], "max_reveal must be in")])
def test_bad_controls_are_one_line_errors(flags, expect, tmp_path, capsys):
    from skimage import data

    from reenactor.io.image import write_image

    src = tmp_path / "a.png"
    write_image(src, data.astronaut()[:64, :64])
    rc = main(["animate", "-s", str(src), "--motion", "nod", "-o", str(tmp_path / "o.mp4"), "-q"] + flags)
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc == 2 and len(err) == 1 and expect in err[0], err


def test_malformed_pair_is_refused_by_the_parser():
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["demo", "--gain", "mouth"])
    assert exc.value.code == 2
    with pytest.raises(ConfigError):
        RetargetConfig(gain={"mouth": -1.0})


def test_regions_partition_the_face(prepared):
    w = region_weights(prepared.rig.head, prepared.rig.proportions.eye_width)
    total = sum(w.values())
    assert total.max() <= 1.0 + 1e-9 and w["gaze"][468] == 1.0 and w["mouth"][13] == 1.0 and w["eyes"][159] == 1.0
    assert w["brows"][105] == 1.0 and w["mouth"][10] == 0.0  # forehead top: in no region


def test_gains_and_pose_on_the_target_landmarks(prepared, track):
    own = prepared.crop_landmarks
    base = _targets(prepared, track)
    assert all(np.array_equal(a, b) for a, b in zip(base, _targets(prepared, track, pose="driver", gain={"mouth": 1.0})))
    ratio = _over_own(_targets(prepared, track, gain={"mouth": 1.5}), own) / _over_own(base, own)
    assert 1.45 <= ratio <= 1.55, ratio  # measured 1.50
    a0 = _angles(base, own)
    turned = _angles(_targets(prepared, track, pose_offset={"yaw": 10.0}), own)
    assert abs((turned[:, 0] - a0[:, 0]).mean() - 10.0) < 0.5  # measured 10.0
    kept = _targets(prepared, track, pose="portrait")
    assert _spread(_angles(kept, own)).max() < 0.1  # measured < 0.01 deg
    assert _over_own(kept, own) == pytest.approx(_over_own(base, own), rel=0.02)  # the mouth still moves as before
    half = _angles(_targets(prepared, track, pose_scale=0.5), own)
    assert 0.45 <= _spread(half[:, 0]) / _spread(a0[:, 0]) <= 0.55  # measured 0.50


def test_controls_read_back_from_rendered_frames(prepared, talk):
    own = LandmarkDetector(static_image_mode=True).detect(prepared.crop_image)
    base = _rendered(prepared, talk)
    a0 = _angles(base, own)
    ratio = _over_own(_rendered(prepared, talk, gain={"mouth": 1.5}), own) / _over_own(base, own)
    assert 1.25 <= ratio <= 1.6, ratio  # measured 1.35 (100 frames; 1.40 with the hand-built talk)
    turn = (_angles(_rendered(prepared, talk, pose_offset={"yaw": 10.0}), own)[:, 0] - a0[:, 0]).mean()
    assert 6.0 <= turn <= 11.0, turn  # measured 7.5: a 2D warp of a turn reads ~0.76 of it
    kept = _rendered(prepared, talk, pose="portrait")
    spread = _spread(_angles(kept, own))
    # Measured 0.8 / 3.3 / 0.3 here (1.1 / 1.7 / 0.7 over 100 frames when the talk was hand-built): the
    # target holds the head still (< 0.01 deg), but mediapipe reads the open mouth of the talk, which goes
    # through A since issue 17 item 1 (its chin drops 0.4 as far as its lower lip), as a downward pitch:
    # 3.5 deg on one rendered frame at mouth_open 0.8 (2.7 with the hand-built jaw), -0.9 correlated with the opening.
    assert spread[0] < 2.0 and spread[0] < 0.5 * _spread(a0[:, 0]) and spread.max() < 4.0, spread
    assert _over_own(kept, own) > 0.8 * _over_own(base, own)  # the mouth still moves (measured 0.96 of the spread)


def test_control_params_for_procedural_motion():
    m = MotionParams(yaw=20.0, pitch=-4.0, roll=2.0, blink=0.5, mouth_open=0.4, smile=0.2, brow=0.5, gaze_x=0.3, gaze_y=0.1)
    assert control_params(RetargetConfig())(m) is m
    got = control_params(RetargetConfig(gain={"mouth": 1.5, "eyes": 0.5, "gaze": 2.0}, pose_offset={"yaw": 10.0}, pose_scale=0.5))(m)
    assert (got.yaw, got.pitch, got.roll) == (20.0, -2.0, 1.0)
    assert (got.mouth_open, got.smile, got.blink, got.brow, got.gaze_x) == pytest.approx((0.6, 0.3, 0.25, 0.5, 0.6))
    still = control_params(RetargetConfig(), still=True)(m)
    assert (still.yaw, still.pitch, still.roll, still.mouth_open) == (0.0, 0.0, 0.0, 0.4)
    assert control_params(RetargetConfig(pose="driver"), still=True)(m) is m


def test_still_driver_keeps_the_portraits_pose_by_default(reenactor, prepared, astronaut, tmp_path):
    """A still of the astronaut turned 20 deg with the mouth open drives the astronaut: by default
    (pose auto = portrait) the head stays where it is and the mouth opens; --pose driver turns it."""
    from reenactor.motion.templates import ExpressionBasis

    target = ExpressionBasis(prepared.rig).landmarks(MotionParams(yaw=20.0, mouth_open=0.6))
    still_image = reenactor.render(prepared, target)
    own = LandmarkDetector(static_image_mode=True).detect(prepared.image)
    out = {}
    for pose in ("auto", "driver"):
        r = Reenactor(replace(ReenactorConfig(), retarget=replace(RetargetConfig(), pose=pose)))
        sink = ListSink()
        run(r, prepared, StillSource(still_image), sink)
        out[pose] = LandmarkDetector(static_image_mode=True).detect(sink.frames[0])
    kept, turned = (euler_degrees(fit_similarity(own, out[k]).rotation)[0] for k in ("auto", "driver"))
    # measured -0.5 and 9.1 deg (20 deg asked, read back twice through a 2D warp: the still, then the output)
    assert abs(kept) < 2.0 and turned > 6.0, (kept, turned)
    assert measure(out["auto"])["mouth_open"] > measure(own)["mouth_open"] + 0.05
