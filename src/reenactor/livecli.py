"""``reenactor live``: the CLI layer of :mod:`reenactor.livecam` (options, status lines, the summary).

Wired into the main CLI through :func:`add_live_parser` / :func:`run_live_command`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from reenactor.errors import InputError, OutputError

DESCRIPTION = (
    "Drive a portrait live from a webcam (--camera N) or from a video file played like a camera in real time "
    "(--camera clip.mp4). The newest camera frame is always the one rendered; frames the machine cannot keep up "
    "with are dropped, never queued. There is no native window (OpenCV here is the headless build, without imshow): "
    "--preview PORT serves the live picture as an MJPEG stream at http://127.0.0.1:PORT/ for a browser, --output "
    "records it. It prints the end-to-end latency (capture to display), fps and drop rate at the end (Ctrl-C stops)."
)


def add_live_parser(sub) -> None:
    """Add ``live`` to a subparsers object."""
    from reenactor.cli import DRIVING_OPTIONS, _nonneg_int, _positive_int, _work_size, add_config_options

    p = sub.add_parser("live", help="live reenactment from a webcam or a file played like one, with latency figures",
                       description=DESCRIPTION)
    p.add_argument("--source", "-s", type=Path, default=None, help="the portrait (default: the astronaut)")
    p.add_argument("--camera", "-c", default=None, metavar="N|FILE",
                   help="webcam index, or a video file played in real time (default 0; with --benchmark a 512x512 clip "
                        "from ../shared/data, else a rendered one)")
    p.add_argument("--preview", type=_nonneg_int, default=None, metavar="PORT",
                   help="serve the live picture at http://127.0.0.1:PORT/ (MJPEG, open it in a browser; 0 = a free port)")
    p.add_argument("--output", "-o", type=Path, default=None, help="record the shown frames to this .mp4 (at the camera's fps)")
    p.add_argument("--benchmark", action="store_true", help="no preview or recording: measure latency, fps and drops, print them")
    p.add_argument("--motion", choices=("relative", "absolute"), default="relative", help="relative (default) or absolute motion")
    p.add_argument("--work-size", type=_work_size, default=512, help="side of the rendered face crop in px (default 512)")
    p.add_argument("--face-index", type=_nonneg_int, default=0, help="which face of the portrait, 0 = the largest")
    p.add_argument("--max-frames", type=_positive_int, default=None, help="stop after N captured frames")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the figures as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no status lines")
    add_config_options(p, DRIVING_OPTIONS)  # --pose, --pose-scale, --pose-offset, --max-reveal, --expression-scale, --gain as for animate


def _status(args, text: str, end: str = "\n") -> None:
    if not args.quiet:
        print(f"reenactor: {text}", file=sys.stderr, end=end, flush=True)


def _check_args(args) -> None:
    """Option clashes and output paths, before any work (InputError / OutputError)."""
    from reenactor.io.atomic import check_output_path

    if args.benchmark and (args.preview is not None or args.output is not None):
        raise InputError("--benchmark runs without --preview or --output: leave them out")
    if args.source is not None and not args.source.is_file():
        raise InputError(f"cannot read portrait {str(args.source)!r}: file not found")
    if args.output is not None:
        if args.output.suffix.lower() not in (".mp4", ".m4v", ".mov", ".mkv"):
            raise OutputError(f"the recording is a video: use .mp4 (got {args.output.suffix or 'no extension'!r})")
        camera_file = Path(args.camera) if args.camera and not args.camera.strip().lstrip("-").isdigit() else None
        check_output_path(args.output, [args.source, camera_file])


def _default_camera(args, stack: ExitStack) -> str:
    """--camera as given; else webcam 0, or for --benchmark the shared bench clip (or a rendered talking head)."""
    from reenactor.bench import BENCH_CLIP, find_shared_data

    if args.camera is not None:
        return args.camera
    if not args.benchmark:
        return "0"
    shared = find_shared_data()
    if shared is not None and (shared / BENCH_CLIP).is_file():
        return str(shared / BENCH_CLIP)
    from skimage import data

    from reenactor.api import Reenactor, animate_template

    _status(args, "../shared/data not found: rendering a 6 s talking-head clip to play as the camera")
    clip = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="reenactor-live-"))) / "camera.mp4"
    r = Reenactor()
    animate_template(r, r.prepare(data.astronaut()), "talk", clip, fps=25, max_frames=150, crop_output=True)
    return str(clip)


def live_config(args):
    """The configuration of a live session: ``--work-size`` and the driving controls, through
    :func:`reenactor.cli._config` as for ``animate`` (a bad value: ConfigError, one line)."""
    from dataclasses import replace

    from reenactor.cli import _config

    cfg = _config(args)
    return replace(cfg, render=replace(cfg.render, work_size=args.work_size))


def _session(args, cfg, fps: float):
    """Read and prepare the portrait; a warmed-up live session rendering the work_size crop."""
    from skimage import data

    from reenactor.api import Reenactor
    from reenactor.io.image import read_image

    image = read_image(args.source, max_side=cfg.max_image_side, what="portrait") if args.source else data.astronaut()
    name = args.source.name if args.source else "the astronaut"
    _status(args, f"preparing the portrait ({name}, {image.shape[1]}x{image.shape[0]}): face, landmarks, person layer")
    t0 = time.perf_counter()
    r = Reenactor(cfg)
    session = r.session(r.prepare(image, args.face_index), fps=fps, crop_output=True, motion=args.motion)
    r.render(session.portrait, session.portrait.crop_landmarks, None, True)  # first-frame set-up, before the clock runs
    return session, time.perf_counter() - t0


def _sinks(args, stack: ExitStack, fps: float):
    """The ``show`` callback: preview and/or recorder (None for --benchmark or neither)."""
    from reenactor.livepreview import MjpegPreview, Recorder

    shows = []
    if args.preview is not None:
        preview = MjpegPreview(args.preview)
        stack.callback(preview.close)
        shows.append(preview.show)
        _status(args, f"preview at {preview.url} (open it in a browser)")
    if args.output is not None:
        rec = Recorder(args.output, fps, (args.work_size, args.work_size))
        stack.push(lambda et, e, tb: rec.close(abort=et is not None))
        shows.append(rec.show)
    if not shows:
        return None
    if len(shows) == 1:
        return shows[0]
    return lambda frame, index: [show(frame, index) for show in shows]


def _tick(args):
    """A progress line about once a second (overwritten in place on a terminal)."""
    if args.quiet:
        return None
    tty = sys.stderr.isatty()

    def tick(stats) -> None:
        lat = sorted(stats.latency_ms[-25:])
        text = (f"live: {stats.captured} captured, {stats.shown} shown, {stats.dropped} dropped, "
                f"{stats.fps_shown():.1f} fps, latency {lat[len(lat) // 2]:.0f} ms")
        _status(args, text, end="\r" if tty else "\n")

    return tick


def summary_text(s: dict, prepare_s: float) -> str:
    """The printable summary of :meth:`reenactor.livecam.LiveStats.summary` (``s``)."""
    lat, st = s["latency_ms"] or {"median": 0, "p90": 0, "max": 0}, s["stage_ms_median"]
    return "\n".join([
        f"reenactor live: {s['source']} at {s['camera_fps']:g} fps, work size {s['work_size']}"
        + (" (stopped by Ctrl-C)" if s["interrupted"] else ""),
        f"  portrait ready in {prepare_s:.2f} s (once)",
        f"  frames captured {s['frames_captured']}, shown {s['frames_shown']}, dropped {s['frames_dropped']} "
        f"(drop rate {100 * s['drop_rate']:.1f} %), faces lost {s['faces_lost']}",
        f"  fps shown {s['fps_shown']:.1f} (camera {s['camera_fps']:g}) over {s['seconds']:.1f} s",
        f"  latency capture -> display: median {lat['median']:.1f} ms, p90 {lat['p90']:.1f} ms, max {lat['max']:.1f} ms",
        f"  per frame (median): landmarks + target {st['landmarks'] or 0:.1f} ms, render {st['render'] or 0:.1f} ms",
        f"  peak memory (max RSS): {s['peak_rss_mb']} MB",
    ])


def run_live_command(args: argparse.Namespace) -> int:
    """``reenactor live``: returns the exit code; errors are raised as :class:`ReenactorError` (one line)."""
    from reenactor.cli import _write_stats
    from reenactor.livecam import open_capture, run_live

    _check_args(args)
    cfg = live_config(args)
    with ExitStack() as stack:
        capture = open_capture(_default_camera(args, stack), args.max_frames)
        stack.callback(capture.stop)
        w, h = capture.size
        _status(args, f"camera: {capture.name}, {w}x{h} at {capture.fps:g} fps")
        session, prepare_s = _session(args, cfg, capture.fps)
        stack.callback(session.close)
        show = _sinks(args, stack, capture.fps)
        _status(args, "live" + ("" if args.max_frames else " (Ctrl-C stops)"))
        stats = run_live(session, capture, show, _tick(args))
    if not args.quiet and sys.stderr.isatty():
        print(file=sys.stderr)
    summary = {**stats.summary(), "work_size": args.work_size, "prepare_s": round(prepare_s, 3)}
    print(summary_text(summary, prepare_s))
    if args.output is not None:
        _status(args, f"wrote {args.output}")
    _write_stats(args.json, summary)
    return 0
