"""``reenactor edit``: change a still portrait's head pose and expression by parameters.

The portrait's landmarks are moved by :func:`reenactor.motion.params.edit_landmarks`
(pose as a rigid turn about the head centre, expression through the learned
map A) and drawn by the same renderer as ``animate``, at the portrait's own
resolution.

Units of the flags: degrees for ``--yaw`` (positive: the nose moves to the
image's left), ``--pitch`` (chin down) and ``--roll`` (clockwise); ``--eyes``
is the lid opening as a fraction of the portrait's own (0 closed, 1 as is);
every other expression flag is in *typical changes*: 1.0 is the 95th
percentile of that channel's change over the fitting clips (the ``span`` of
``weights/directions.json``; e.g. ``--mouth 1`` opens the lips by 0.26
inter-ocular distances), negative values go the other way.

Each request is then scaled by the measured picture response
(:func:`load_response`, ``weights/edit_response.json``): a warped picture
shows less of a landmark change than a real face would (dlib reads ~0.78 of
an asked head turn), so the landmarks are moved further, by at most 1.6x.
docs/controls.md measures what reaches the picture.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from reenactor.errors import InputError, OutputError

#: flag -> (channel of reenactor.motion.params, help)
EXPRESSION_FLAGS = {
    "mouth": ("mouth_open", "open the mouth (1 = wide open; negative closes an open mouth)"),
    "smile": ("smile", "widen the mouth (1 = a broad smile; negative narrows it)"),
    "pucker": ("pucker", "push the lips forward"),
    "corners": ("corners", "lift the mouth corners (negative lowers them)"),
    "brow": ("brow", "raise the brows (negative lowers them)"),
    "frown": ("frown", "draw the inner brows together"),
    "gaze_x": ("gaze_x", "move the irises right in the picture (negative: left)"),
    "gaze_y": ("gaze_y", "move the irises down (negative: up)"),
}
IMAGE_OUT = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def _finite(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not np.isfinite(v):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return v


def add_edit_parser(sub) -> None:
    """Add ``edit`` to a subparsers object."""
    p = sub.add_parser("edit", help="change a portrait's head pose and expression by parameters (one picture)",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--source", "-s", type=Path, required=True, help="the portrait (JPEG, PNG, WebP, ...)")
    p.add_argument("--output", "-o", type=Path, required=True, help=f"output picture ({', '.join(IMAGE_OUT)}), the portrait's size")
    for name, what in (("yaw", "turn (degrees, + = nose to the image's left)"), ("pitch", "nod (degrees, + = chin down)"),
                       ("roll", "tilt (degrees, + = clockwise)")):
        p.add_argument(f"--{name}", type=_finite, default=0.0, metavar="DEG", help=what)
    p.add_argument("--eyes", type=_finite, default=None, metavar="F", help="lid opening as a fraction of the portrait's own (0 closed, 1 as is)")
    for flag, (_, what) in EXPRESSION_FLAGS.items():
        p.add_argument(f"--{flag.replace('_', '-')}", dest=flag, type=_finite, default=0.0, metavar="X", help=what)
    p.add_argument("--face-index", type=int, default=0, help="which face, counted from the largest (default 0)")


def requested_change(args, head: np.ndarray, span: dict[str, float]) -> dict[str, float]:
    """``{channel: change}`` for :func:`~reenactor.motion.params.edit_landmarks` from the parsed flags.

    Args:
        head: (478, 3) normalised head landmarks of the portrait (for ``--eyes``).
        span: channel -> its typical change (IOD units).
    """
    from reenactor.motion.params import EXPRESSION_CHANNELS, measure_expression

    if abs(args.yaw) > 45 or abs(args.pitch) > 35 or abs(args.roll) > 45:
        raise InputError("--yaw/--roll go up to 45 degrees and --pitch up to 35: the renderer warps the picture, it cannot turn a head further")
    change = {"yaw": args.yaw, "pitch": args.pitch, "roll": args.roll}
    for flag, (channel, _) in EXPRESSION_FLAGS.items():
        value = getattr(args, flag)
        if abs(value) > 2.0:
            raise InputError(f"--{flag.replace('_', '-')} {value:g} is out of range (-2..2 typical changes)")
        change[channel] = value * span[channel]
    if args.eyes is not None:
        if not 0.0 <= args.eyes <= 1.6:
            raise InputError(f"--eyes {args.eyes:g} is out of range (0 closed .. 1 as is .. 1.6)")
        own = dict(zip(EXPRESSION_CHANNELS, measure_expression(head)))
        for eye in ("eye_r", "eye_l"):
            change[eye] = (args.eyes - 1.0) * max(own[eye], 0.0)
    return change


#: Edit channels whose asked change is corrected by the measured picture response
#: (``weights/edit_response.json``; the eye channels share the "eyes" entry).
RESPONSE_CHANNELS = ("yaw", "pitch", "roll", "mouth_open", "smile", "eyes", "brow")
RESPONSE_NAME = "edit_response"


def load_response() -> dict[str, float]:
    """``{channel: factor}``: how much further than asked each channel is moved in the landmarks.

    A warped picture shows less of a landmark change than a real face would:
    an independent landmark reader (dlib, in ``scripts/make_controls_doc.py
    --calibrate``) reads about 0.7 of an asked head turn on the rendered
    picture. The factor is 1 / that measured response on calibration
    portraits (never the held-out ones of docs/controls.md), at most the
    file's ``max_factor``; 1 where the response is within 10 % of 1.

    Raises:
        WeightsError: the shipped file is missing or corrupt.
    """
    import json

    from reenactor.weights import weight_path

    card = json.loads(weight_path(RESPONSE_NAME).read_text())
    return {c: float(card["factor"].get(c, 1.0)) for c in RESPONSE_CHANNELS}


def picture_change(change: dict[str, float], factors: dict[str, float], head: np.ndarray | None = None) -> dict[str, float]:
    """``change`` with each channel multiplied by its response factor (:func:`load_response`).

    Args:
        change: ``{channel: change}`` of :func:`reenactor.motion.params.edit_landmarks`.
        factors: ``{channel: factor}``; ``eye_r``/``eye_l`` take ``"eyes"``.
        head: (478, 3) normalised head landmarks; when given, an eye is never
            asked to close further than its own lid gap (a closed eye stays closed).
    """
    from reenactor.motion.params import EXPRESSION_CHANNELS, measure_expression

    out = {}
    for channel, value in change.items():
        out[channel] = float(value) * factors.get("eyes" if channel in ("eye_r", "eye_l") else channel, 1.0)
    if head is not None:
        own = dict(zip(EXPRESSION_CHANNELS, measure_expression(head)))
        for eye in ("eye_r", "eye_l"):
            if eye in out:
                out[eye] = max(out[eye], -max(own[eye], 0.0))
    return out


def run_edit(args) -> int:
    """``reenactor edit``: read, prepare, move the landmarks, render, write atomically with provenance."""
    import sys

    from reenactor.api import Reenactor
    from reenactor.io.atomic import check_output_path
    from reenactor.io.image import read_image, write_image
    from reenactor.io.provenance import provenance
    from reenactor.motion.params import EXPRESSION_CHANNELS, edit_landmarks, load_directions, normalised_head
    from reenactor.pipeline import finish_frame

    suffix = args.output.suffix.lower()
    if suffix not in IMAGE_OUT:
        raise OutputError(f"edit writes one picture: use {', '.join(IMAGE_OUT)} (got {suffix or 'no extension'!r})")
    check_output_path(args.output, [args.source])
    directions = load_directions()
    r = Reenactor()
    image = read_image(args.source, max_side=r.config.max_image_side, what="portrait")
    portrait = r.prepare(image, args.face_index)
    head, _ = normalised_head(portrait.crop_landmarks)
    change = requested_change(args, head, dict(zip(EXPRESSION_CHANNELS, directions.span.tolist())))
    target = edit_landmarks(portrait.rig, directions, picture_change(change, load_response(), head))
    frame = r.render(portrait, target, None, crop_output=False)
    write_image(args.output, finish_frame(frame, r.config.output), metadata=provenance())
    print(f"wrote {args.output} ({frame.shape[1]}x{frame.shape[0]})", file=sys.stderr)
    return 0
