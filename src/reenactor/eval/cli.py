"""``reenactor eval``: run the evaluation protocols and write the report.

Wired into the main CLI through :func:`add_eval_parser` / :func:`run_eval`;
also runnable alone as ``python -m reenactor.eval``.

Writes ``OUT/results.json``, ``OUT/report.html`` (self-contained) and the
region views ``OUT/regions/<item>.jpg`` (:mod:`reenactor.eval.regions`), and
with ``--markdown PATH`` also the docs page and its images (region views under
``<assets>/regions/``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from reenactor.errors import InputError, OutputError, ReenactorError

DEFAULT_METHODS = ("static", "driver", "naive2d", "reenactor")
#: Items whose strips go into docs/benchmarks.md (the HTML report has all of them).
DOC_STRIP_ITEMS = (
    "styletalk_furious2",
    "mead_m030_1080p",
    "mona_lisa__lp_d0",
    "jolie_photo__retalking_1",
    "hathaway__hdtf_markey",
    "musk__styletalk_nice",
)


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from exc
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def _csv(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _variant(text: str) -> tuple[str, dict]:
    """``NAME=JSON`` of ``--variant``: a method name and ``{section: {field: value}}`` overrides."""
    import json  # noqa: PLC0415

    name, sep, body = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=JSON, got {text!r}")
    try:
        overrides = json.loads(body)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{name}: not JSON ({exc.msg})") from None
    if not isinstance(overrides, dict):
        raise argparse.ArgumentTypeError(f"{name}: expected a JSON object of config sections")
    return name.strip(), overrides


def configure_parser(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``eval`` options to ``p`` and return it."""
    p.add_argument("--protocol", choices=("self", "cross", "all"), default="all", help="which protocol(s) to run (default: all)")
    p.add_argument(
        "--half", choices=("dev", "check", "all"), default="all",
        help="which half of the sets: dev (may be tuned on), check (only to confirm) or all (default)",
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder for results.json and report.html")
    p.add_argument("--data", type=Path, metavar="DIR", default=None, help="data folder with MANIFEST.tsv (default: $REENACTOR_DATA or <repo>/../shared/data)")
    p.add_argument("--max-frames", type=_positive_int, default=90, metavar="N", help="frames read from the start of each clip (default: 90)")
    p.add_argument("--id-stride", type=_positive_int, default=1, metavar="K", help="identity descriptors on every K-th frame (default: 1, every frame)")
    p.add_argument("--methods", type=_csv, default=list(DEFAULT_METHODS), metavar="LIST", help="comma-separated methods (default: static,driver,naive2d,reenactor)")
    p.add_argument("--variant", type=_variant, action="append", default=[], metavar="NAME=JSON",
                   help='an extra method: the pipeline with config overrides, e.g. '
                        '\'g13={"retarget": {"gain": {"mouth": 1.3}}}\' (repeatable; list NAME in --methods)')
    p.add_argument("--items", type=_csv, default=None, metavar="LIST", help="comma-separated item names from sets.tsv (default: all of the protocol)")
    p.add_argument("--markdown", type=Path, default=None, metavar="PATH", help="also write a markdown summary (e.g. docs/benchmarks.md)")
    p.add_argument("--assets", type=Path, default=None, metavar="DIR", help="images for --markdown (default: <markdown dir>/benchmarks)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return p


def add_eval_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``eval`` sub-command on an ``argparse`` subparsers object.

    The returned parser has ``func=run_eval`` as default.
    """
    p = subparsers.add_parser(
        "eval",
        help="measure quality and speed against baselines (needs the eval extra)",
        description="Run the self/cross reenactment protocols with dlib-based metrics and write results.json + report.html.",
    )
    configure_parser(p)
    p.set_defaults(func=run_eval)
    return p


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    """The checkout's short commit, with "-dirty" when tracked files differ from it (None outside git).

    Taken when the run starts: a report written after a later commit must
    still name the code that ran.
    """
    here = Path(__file__).resolve().parent
    try:
        r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=False)
        d = subprocess.run(["git", "diff", "--quiet", "HEAD", "--"], cwd=here, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = r.stdout.strip()
    return (commit + ("-dirty" if d.returncode == 1 else "")) if commit else None


def run_eval(args: argparse.Namespace) -> int:
    """Run the evaluation described by parsed ``args`` (see :func:`configure_parser`).

    Returns:
        0 on success.

    Raises:
        ReenactorError: bad options, missing data or dependencies, unwritable output.
    """
    from tqdm import tqdm  # noqa: PLC0415

    import reenactor  # noqa: PLC0415
    from reenactor.eval import report  # noqa: PLC0415
    from reenactor.eval.dlibface import DlibFace  # noqa: PLC0415
    from reenactor.eval.methods import make_methods  # noqa: PLC0415
    from reenactor.eval.runner import RunOptions, max_rss_mb, run_item, total_steps  # noqa: PLC0415
    from reenactor.eval.sets import load_sets, resolve_data_dir, select, validate  # noqa: PLC0415

    t_start = time.perf_counter()
    git = _git_commit()
    data_dir = resolve_data_dir(args.data)
    items = select(load_sets(), args.protocol, args.items, args.half)
    if not items:
        raise InputError(f"no items selected for protocol {args.protocol}, half {args.half}")
    validate(items, data_dir)
    if len(set(args.methods)) != len(args.methods) or not args.methods:
        raise InputError(f"--methods must list distinct methods, got {args.methods}")
    out_dir: Path = args.out
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out_dir}: {exc}") from exc
    options = RunOptions(max_frames=args.max_frames, id_stride=args.id_stride)
    face = DlibFace()
    methods = make_methods(args.methods, dict(args.variant))
    names = [m.name for m in methods]

    results = []
    with tqdm(total=total_steps(items, methods), file=sys.stderr, disable=args.no_progress, unit="step", dynamic_ncols=True) as bar:

        def step(label: str) -> None:
            bar.set_postfix_str(label, refresh=False)
            bar.update(1)

        for item in items:
            bar.set_description(f"{item.protocol}:{item.name}"[:40])
            results.append(run_item(item, data_dir, methods, face, options, step))

    import dlib  # noqa: PLC0415

    meta = {
        "protocol": args.protocol,
        "half": args.half,
        "max_frames": args.max_frames,
        "id_stride": args.id_stride,
        "methods": names,
        "data_dir": str(data_dir),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "reenactor_version": getattr(reenactor, "__version__", None),
        "git": git,
        "dlib_version": dlib.__version__,
        "python": platform.python_version(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "ru_maxrss_mb": max_rss_mb(),
        "memory_method": "peak RSS sampled every 10 ms from /proc/self/statm during each method call; ru_maxrss for the process",
    }
    meta["wall_seconds"] = time.perf_counter() - t_start
    meta["cpu_seconds"] = _cpu_seconds()
    doc = report.results_document(results, names, meta)
    report.write_json(doc, out_dir / "results.json")
    report.write_html(doc, results, names, out_dir / "report.html")
    report.write_regions(results, out_dir / report.REGIONS_DIR)
    if args.markdown is not None:
        assets = args.assets if args.assets is not None else args.markdown.parent / "benchmarks"
        meta["wall_seconds"], meta["cpu_seconds"] = time.perf_counter() - t_start, _cpu_seconds()
        report.write_markdown(doc, results, names, args.markdown, assets, DOC_STRIP_ITEMS, "scripts/make_benchmarks.sh")
    for protocol, s in doc["summary"].items():
        header, rows = report.table_rows(protocol, s["methods"], names)
        print(f"{protocol} ({s['items']} items)")
        print("  " + " | ".join(header))
        for r in rows:
            print("  " + " | ".join(r))
    for title, _, header, rows in report.comparison_sections(doc, names):
        print(title)
        print("  " + " | ".join(header))
        for r in rows:
            print("  " + " | ".join(r))
    print(f"wrote {out_dir / 'results.json'} and {out_dir / 'report.html'} in {time.perf_counter() - t_start:.0f} s")
    return 0


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and its finished children, seconds: unlike the wall
    time it does not grow when other jobs share the machine."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m reenactor.eval``)."""
    parser = configure_parser(argparse.ArgumentParser(prog="python -m reenactor.eval", description=__doc__.splitlines()[0]))
    args = parser.parse_args(argv)
    try:
        return run_eval(args)
    except ReenactorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())

