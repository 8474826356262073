"""Command line: argument parsing and user-facing messages only.

Every user error ends as one line on stderr (``reenactor: error: ...``) and
exit code 2 (3 for a missing optional dependency); Ctrl-C exits with 130 and
leaves no partial output.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

from reenactor import __version__
from reenactor.config import BACKGROUNDS, MOUTH_MODES, POSE_MODES, RETARGET_METHODS, X264_PRESETS
from reenactor.errors import InputError, OutputError, ReenactorError
from reenactor.io.alloc import keep_large_buffers
from reenactor.livecli import add_live_parser
from reenactor.webapp import add_serve_parser

TEMPLATE_NAMES = ("nod", "shake", "tilt", "blink", "smile", "frown", "look", "talk", "demo")
IMAGE_OUT = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def _int_at_least(minimum: int):
    """argparse type: a whole number >= minimum, with a one-line error otherwise."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"expected a number of at least {minimum}, got {v}")
        return v

    return parse


_positive_int = _int_at_least(1)
_nonneg_int = _int_at_least(0)


def _positive_minutes(text: str) -> float:
    """argparse type: a number of minutes above 0."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of minutes, got {text!r}") from None
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of minutes above 0, got {text}")
    return v


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 640,4000, got {text!r}") from None
    if not sizes or any(v < 64 or v > 8192 for v in sizes):
        raise argparse.ArgumentTypeError("portrait sizes must be between 64 and 8192 px")
    return sizes


def _work_size(text: str) -> int:
    v = _positive_int(text)
    if v < 128 or v > 2048 or v % 2:
        raise argparse.ArgumentTypeError("--work-size must be an even number between 128 and 2048")
    return v


def _pair(text: str) -> tuple[str, float]:
    """argparse type: ``NAME=NUMBER`` (the name is checked by the configuration)."""
    name, sep, value = text.partition("=")
    try:
        return name.strip(), float(value)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected NAME=NUMBER like mouth=1.3, got {text!r}" if sep else f"expected NAME=NUMBER, got {text!r}")


#: Options whose meaning, choices and default come from the configuration:
#: (flag, ReenactorConfig section, field, argparse settings). _config applies them
#: (repeatable NAME=NUMBER options become a mapping).
CONFIG_OPTIONS = (
    ("--work-size", "render", "work_size", {"type": _work_size}),
    ("--mouth", "render", "mouth", {"choices": MOUTH_MODES}),
    ("--retarget", "retarget", "method", {"choices": RETARGET_METHODS}),
    ("--background", "render", "background", {"choices": BACKGROUNDS}),
    ("--max-size", "output", "max_size", {"type": _nonneg_int, "metavar": "N"}),
    ("--preset", "output", "preset", {"choices": X264_PRESETS}),
    ("--watermark", "output", "watermark", {"action": "store_true"}),
    ("--pose", "retarget", "pose", {"choices": POSE_MODES}),
    ("--pose-scale", "retarget", "pose_scale", {"type": float, "metavar": "K"}),
    ("--pose-offset", "retarget", "pose_offset", {"action": "append", "type": _pair, "metavar": "AXIS=DEG"}),
    ("--max-reveal", "retarget", "max_reveal", {"type": float, "metavar": "DEG"}),
    ("--expression-scale", "retarget", "expression_gain", {"type": float, "metavar": "K"}),
    ("--gain", "retarget", "gain", {"action": "append", "type": _pair, "metavar": "CHANNEL=K"}),
)


def _config_help(section: str, name: str, flag_kind: dict) -> str:
    from reenactor.config import ReenactorConfig, describe

    cfg = getattr(ReenactorConfig(), section)
    text = describe(type(cfg), name)
    return text if flag_kind.get("action") == "store_true" else f"{text} (default: {getattr(cfg, name)})"


#: The driving controls of :data:`CONFIG_OPTIONS` (``reenactor live`` takes these too).
DRIVING_OPTIONS = ("--pose", "--pose-scale", "--pose-offset", "--max-reveal", "--expression-scale", "--gain")


def add_config_options(p: argparse.ArgumentParser, flags: tuple[str, ...] | None = None) -> None:
    """Add the options of :data:`CONFIG_OPTIONS` (only ``flags`` when given); :func:`_config` applies them."""
    for flag, section, name, kind in CONFIG_OPTIONS:
        if flags is None or flag in flags:
            default = False if kind.get("action") == "store_true" else None
            p.add_argument(flag, default=default, help=_config_help(section, name, kind), **kind)


def _add_render_options(p: argparse.ArgumentParser) -> None:
    add_config_options(p)
    p.add_argument("--crop", action="store_true", help="output the square face crop instead of the whole portrait")
    p.add_argument("--face-index", type=_nonneg_int, default=0, help="which face of the portrait, 0 = the largest")
    p.add_argument("--max-frames", type=_positive_int, default=None, help="stop after N frames")
    p.add_argument("--stats", type=Path, default=None, metavar="FILE", help="write run statistics as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _add_bench_parser(sub) -> None:
    """The ``bench`` subcommand's options."""
    b = sub.add_parser("bench", help="measure speed and memory per stage")
    b.add_argument("--driving", "-d", type=Path, default=None, help="driving clip (default: a real 512x512 clip from ../shared/data, else a rendered one)")
    b.add_argument("--source", "-s", type=Path, default=None, help="portrait (default: the astronaut)")
    b.add_argument("--frames", type=_positive_int, default=150, help="frames to run (default 150)")
    b.add_argument("--work-size", type=_work_size, default=512)
    b.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the figures as JSON")
    b.add_argument("--portrait-size", type=_sizes, default=None, metavar="N[,N...]",
                   help="bring the portrait's longer side to N px (e.g. 640,4000: one run per size, each in its own process, compared)")
    b.add_argument("--repeat", type=_positive_int, default=3, metavar="K",
                   help="with several --portrait-size: take the sizes in turn K times and compare medians (default 3)")
    b.add_argument("--driver-minutes", type=_positive_minutes, default=None, metavar="M",
                   help="loop the driver clip to M minutes instead of --frames, and print the memory along the run")
    b.add_argument("--mouth-models", action="store_true",
                   help="also time the learned inner-mouth networks (learned, fdgan) per frame")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reenactor",
        description="One-shot, identity-preserving portrait reenactment on the CPU.",
    )
    parser.add_argument("--version", action="version", version=f"reenactor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    a = sub.add_parser(
        "animate",
        help="animate a portrait with a driving video, a driving image, or a built-in motion",
        description="Animate a portrait. Give --driving VIDEO (or IMAGE), or --motion NAME for a built-in motion.",
    )
    a.add_argument("--source", "-s", type=Path, required=True, help="the portrait (JPEG, PNG, WebP, ...)")
    a.add_argument("--driving", "-d", type=Path, default=None, help="driving video (any format PyAV reads) or image")
    a.add_argument("--output", "-o", type=Path, required=True, help="output .mp4 (or an image when the driver is an image)")
    a.add_argument(
        "--motion",
        default="relative",
        metavar="MODE|NAME",
        help="relative (default: the driver's changes on the portrait's own face), absolute (same person), "
        f"or a built-in motion without --driving: {', '.join(TEMPLATE_NAMES)}",
    )
    a.add_argument("--reference-frame", type=_nonneg_int, default=None, help="driver frame whose state maps to the portrait as it is (default: the frame whose head pose and expression match the portrait's best)")
    a.add_argument("--fps", type=float, default=25.0, help="frame rate of built-in motions (default 25)")
    _add_render_options(a)

    d = sub.add_parser("demo", help="animate the built-in astronaut portrait (no input needed)")
    d.add_argument("--output", "-o", type=Path, default=Path("reenactor_demo.mp4"), help="output video (default reenactor_demo.mp4)")
    d.add_argument("--motion", choices=TEMPLATE_NAMES, default="demo", help="built-in motion (default demo)")
    _add_render_options(d)

    _add_bench_parser(sub)

    try:
        from reenactor.eval.cli import add_eval_parser
    except ImportError:
        add_eval_parser = None
    if add_eval_parser is not None:
        add_eval_parser(sub)
    from reenactor.train.cli import add_train_parser

    add_train_parser(sub)
    from reenactor.figures.cli import add_figures_parser

    add_figures_parser(sub)
    from reenactor.edit import add_edit_parser

    for add in (add_edit_parser, add_live_parser, add_serve_parser):
        add(sub)
    return parser


def _config(args):
    """The configuration with the options of :data:`CONFIG_OPTIONS` that were given."""
    from reenactor.config import ReenactorConfig

    cfg = ReenactorConfig()
    changes: dict[str, dict] = {}
    for flag, section, name, _ in CONFIG_OPTIONS:
        value = getattr(args, flag[2:].replace("-", "_"), None)
        if value is not None and value is not False:
            changes.setdefault(section, {})[name] = dict(value) if isinstance(value, list) else value
    return replace(cfg, **{section: replace(getattr(cfg, section), **fields) for section, fields in changes.items()})


def _status(args, text: str) -> None:
    """One status line on stderr before the progress bar starts (not with --quiet)."""
    if not args.quiet:
        print(f"reenactor: {text}", file=sys.stderr, flush=True)


def _fit_portrait(args, image, cfg, video: bool):
    """The portrait brought within the video size cap (rendering it larger would be thrown away)."""
    from reenactor.io.video import fit_video_size

    h, w = image.shape[:2]
    if not video or args.crop or cfg.output.max_size <= 0:
        return image, None
    fw, fh = fit_video_size(w, h, cfg.output.max_size)
    if fw >= w - 1 and fh >= h - 1:
        return image, None
    import cv2

    _status(args, f"portrait {w}x{h} is larger than a video player takes: rendering at {fw}x{fh} (--max-size 0 keeps it)")
    return cv2.resize(image, (fw, fh), interpolation=cv2.INTER_AREA), [w, h]


def _write_stats(path: Path | None, stats: dict) -> None:
    if path is None:
        return
    from reenactor.io.atomic import atomic_output

    try:
        with atomic_output(path) as tmp:
            tmp.write_text(json.dumps(stats, indent=2) + "\n")
    except OSError as exc:
        raise OutputError(f"cannot write stats {str(path)!r}: {exc.strerror or exc}") from None


def _summary(stats: dict, output: Path) -> str:
    lost = f", {stats['faces_lost']} without a face" if stats.get("faces_lost") else ""
    return f"wrote {output} ({stats['frames']} frames, {stats['fps_end_to_end']} fps{lost})"


def cmd_animate(args) -> int:
    from reenactor.api import Reenactor, animate_file, animate_template
    from reenactor.io.atomic import check_output_path
    from reenactor.io.image import is_image_path, read_image, write_image

    motion = args.motion
    template = motion not in ("relative", "absolute")
    if template and motion not in TEMPLATE_NAMES:
        raise InputError(f"unknown --motion {motion!r}: use relative, absolute, or one of {', '.join(TEMPLATE_NAMES)}")
    if template and args.driving is not None:
        raise InputError(f"--motion {motion} is a built-in motion: leave out --driving, or use --motion relative|absolute")
    if not template and args.driving is None:
        raise InputError("give --driving VIDEO, or --motion NAME for a built-in motion")
    if args.driving is not None and not args.driving.exists():
        raise InputError(f"cannot read driver {str(args.driving)!r}: file not found")
    check_output_path(args.output, [args.source, args.driving])
    still_driver = args.driving is not None and is_image_path(args.driving)
    suffix = args.output.suffix.lower()
    if still_driver and suffix not in IMAGE_OUT:
        raise OutputError(f"the driver is a still image, so the output is an image: use {', '.join(IMAGE_OUT)} (got {suffix or 'no extension'!r})")
    if not still_driver and suffix in IMAGE_OUT:
        raise OutputError(f"the output is a video: use .mp4 (got {suffix!r})")
    if not still_driver and suffix not in (".mp4", ".m4v", ".mov", ".mkv"):
        raise OutputError(f"unsupported output extension {suffix or '(none)'!r}: use .mp4")
    cfg = _config(args)
    _status(args, f"reading {args.source.name}")
    image = read_image(args.source, max_side=cfg.max_image_side, what="portrait")
    image, scaled_from = _fit_portrait(args, image, cfg, video=not still_driver)
    r = Reenactor(cfg)
    _status(args, f"preparing the portrait ({image.shape[1]}x{image.shape[0]}): face, landmarks, person layer")
    portrait = r.prepare(image, args.face_index)
    if still_driver:
        stats = _animate_still(r, portrait, args.driving, args.output, args.crop, read_image, write_image)
    elif template:
        stats = animate_template(r, portrait, motion, args.output, fps=args.fps, max_frames=args.max_frames, crop_output=args.crop, progress=not args.quiet)
    else:
        stats = animate_file(
            r,
            portrait,
            args.driving,
            args.output,
            max_frames=args.max_frames,
            crop_output=args.crop,
            motion=motion,
            reference_frame=args.reference_frame,
            progress=not args.quiet,
        )
    stats["portrait_faces"] = portrait.faces
    if scaled_from is not None:
        stats["portrait_scaled_from"] = scaled_from
    _write_stats(args.stats, stats)
    if not args.quiet:
        print(_summary(stats, args.output), file=sys.stderr)
    return 0


def _animate_still(r, portrait, driving: Path, output: Path, crop: bool, read_image, write_image) -> dict:
    from reenactor.pipeline import ImageSink, StillSource, run

    source = StillSource(read_image(driving, what="driver"), f"the driver image {str(driving)!r}")
    return run(r, portrait, source, ImageSink(output), crop_output=crop)


def cmd_demo(args) -> int:
    from skimage import data

    from reenactor.api import Reenactor, animate_template
    from reenactor.io.atomic import check_output_path

    if args.output.suffix.lower() not in (".mp4", ".m4v", ".mov", ".mkv"):
        raise OutputError(f"the demo writes a video: use .mp4 (got {args.output.suffix or 'no extension'!r})")
    check_output_path(args.output, [])
    r = Reenactor(_config(args))
    portrait = r.prepare(data.astronaut(), args.face_index)
    stats = animate_template(r, portrait, args.motion, args.output, max_frames=args.max_frames, crop_output=args.crop, progress=not args.quiet)
    _write_stats(args.stats, stats)
    if not args.quiet:
        print(_summary(stats, args.output), file=sys.stderr)
    return 0


def cmd_bench(args) -> int:
    from reenactor.bench import compare_sizes, run_bench

    sizes = args.portrait_size or [None]
    if len(sizes) > 1:
        report = compare_sizes(args, sizes)
    else:
        report = run_bench(driving=args.driving, source=args.source, frames=args.frames, work_size=args.work_size, portrait_side=sizes[0],
                           driver_minutes=args.driver_minutes, mouth_models=args.mouth_models)
    print(report["text"])
    if args.json:
        _write_stats(args.json, {k: v for k, v in report.items() if k != "text"})
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    handlers = {"animate": cmd_animate, "demo": cmd_demo, "bench": cmd_bench}
    keep_large_buffers()
    try:
        if args.command == "eval":
            from reenactor.eval.cli import run_eval

            return run_eval(args)
        if args.command == "train":
            from reenactor.train.cli import run_train

            return run_train(args)
        if args.command == "edit":
            from reenactor.edit import run_edit

            return run_edit(args)
        if args.command == "figures":
            from reenactor.figures.cli import run_figures

            return run_figures(args)
        if args.command == "live":
            from reenactor.livecli import run_live_command

            return run_live_command(args)
        if args.command == "serve":
            from reenactor.webapp import run_serve

            return run_serve(args)
        return handlers[args.command](args)
    except ReenactorError as exc:
        print(f"reenactor: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("reenactor: interrupted; nothing was written", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os._exit(1)


if __name__ == "__main__":
    sys.exit(main())
