"""`reenactor bench`: frames per second per stage and end to end, peak memory.

The default clip is a real 512x512 talking-head video from ``../shared/data``
(found through ``REENACTOR_DATA`` or next to the repository); on a machine
without it, the driver is the astronaut rendered with the built-in ``demo``
motion, written to a temporary video first, so the figures still come from a
real decode -> landmarks -> render -> encode run.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from dataclasses import replace
from pathlib import Path

BENCH_CLIP = "videos/SadTalker__WDA_KatieHill_000.mp4"


def find_shared_data() -> Path | None:
    """The real-data folder: $REENACTOR_DATA, else ../shared/data beside the checkout or cwd."""
    env = os.environ.get("REENACTOR_DATA")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve()
    candidates += [p.parent / "shared" / "data" for p in here.parents[:5]]
    candidates.append(Path.cwd().parent / "shared" / "data")
    for c in candidates:
        if (c / "MANIFEST.tsv").is_file():
            return c
    return None


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _resized(image, side: int | None):
    """``image`` with its longer side brought to ``side`` pixels (area-averaged down, cubic up)."""
    if not side:
        return image
    import cv2

    h, w = image.shape[:2]
    f = side / max(h, w)
    size = (max(2, round(w * f)), max(2, round(h * f)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)


def run_bench(
    driving: Path | None = None, source: Path | None = None, frames: int = 150, work_size: int = 512, portrait_side: int | None = None,
    driver_minutes: float | None = None, mouth_models: bool = False,
) -> dict:
    """Run the whole pipeline once and time every stage.

    Args:
        driver_minutes: loop the driver to this many minutes instead of
            ``frames`` (:mod:`reenactor.bench_memory`); the report then also
            has ``rss_samples``: the resident memory along the run.

    Returns:
        dict with ``stages`` (ms per frame), ``fps`` (end to end, and the warp
        alone), ``peak_rss_mb``, the inputs used, and ``text``: a printable
        table.
    """
    from skimage import data

    from reenactor.api import Reenactor, video_size
    from reenactor.config import ReenactorConfig
    from reenactor.io.image import read_image

    t_start = time.perf_counter()
    cfg = ReenactorConfig()
    cfg = replace(cfg, render=replace(cfg.render, work_size=work_size))  # output as a user gets it (4K UHD cap)
    r = Reenactor(cfg)
    image = _resized(read_image(source, what="portrait") if source else data.astronaut(), portrait_side)
    t0 = time.perf_counter()
    portrait = r.prepare(image)
    # Per-portrait layers (irises, mouth, person/background), at the size the video is drawn.
    r._space(r.fit(portrait, video_size(r, portrait, False)), crop_output=False)
    prepare_ms = (time.perf_counter() - t0) * 1000
    with tempfile.TemporaryDirectory(prefix="reenactor-bench-") as tmp:
        t_file = time.perf_counter()
        stats, driving, note, sampler = _drive(r, portrait, driving, frames, Path(tmp), driver_minutes)
    ms = stats["ms_per_frame"]
    warp_ms = ms.get("warp_field", 0) + ms.get("remap", 0)
    n = stats["frames"]
    first_s = None if stats.get("first_frame_s") is None else t_file - t_start + stats["first_frame_s"]
    h, w = image.shape[:2]
    report = {
        "driving": str(driving) + note,
        "portrait": f"{source if source else 'skimage astronaut'} at {w}x{h}",
        "portrait_size": [w, h],
        "output_size": stats.get("output_size"),
        "first_frame_s": None if first_s is None else round(first_s, 2),
        "frames": n,
        "work_size": work_size,
        "prepare_ms": round(prepare_ms, 1),
        "stages_ms_per_frame": ms,
        "fps_end_to_end": stats["fps_end_to_end"],
        "fps_warp_only": round(1000.0 / warp_ms, 1) if warp_ms else None,
        "fps_render_only": round(1000.0 / sum(ms.get(k, 0) for k in ("retarget", "warp_field", "remap", "mouth_eyes")), 1),
        "peak_rss_mb": round(_peak_mb(), 1),
        "cpu_count": os.cpu_count(),
    }
    _extras(report, sampler, driver_minutes, portrait if mouth_models else None)
    report["text"] = _text(report, ms, n, work_size) + "".join("\n" + "\n".join(x) for x in report.pop("_lines"))
    return report


def _extras(report: dict, sampler, driver_minutes, portrait) -> None:
    """Add the long-driver memory samples and the mouth-model timings (when asked) to ``report``."""
    report["_lines"] = []
    if sampler is not None:
        report["driver_minutes"] = driver_minutes
        report["rss_samples"] = [dict(zip(("pass", "frame", "rss_mb", "peak_rss_mb"), s)) for s in sampler.samples]
        report["_lines"].append(sampler.lines())
    if portrait is not None:
        from reenactor.bench_models import mouth_model_lines, mouth_model_times

        report["mouth_models"] = mouth_model_times(portrait)
        report["_lines"].append(mouth_model_lines(report["mouth_models"]))


def _drive(r, portrait, driving: Path | None, frames: int, tmp: Path, driver_minutes: float | None):
    """Animate ``portrait`` by the bench driver into ``tmp``: ``frames`` of it, or looped to ``driver_minutes``.

    Returns:
        (run statistics, driver path, a note on it, the
        :class:`~reenactor.bench_memory.RssSampler` of a looped driver or None).
    """
    from reenactor.api import animate_file, animate_template

    note = ""
    if driving is None:
        shared = find_shared_data()
        if shared is not None and (shared / BENCH_CLIP).is_file():
            driving = shared / BENCH_CLIP
        else:
            driving = tmp / "driver.mp4"
            animate_template(r, portrait, "demo", driving, max_frames=frames)
            note = " (rendered: ../shared/data not found)"
    if driver_minutes is None:
        return animate_file(r, portrait, driving, tmp / "out.mp4", max_frames=frames), driving, note, None
    from reenactor.bench_memory import long_driver_run

    stats, sampler = long_driver_run(r, portrait, driving, driver_minutes, tmp / "out.mp4")
    return stats, driving, f"{note}, looped to {driver_minutes:g} min", sampler


def _text(report: dict, ms: dict[str, float], n: int, work_size: int) -> str:
    """The printable table of one bench run."""
    own = sum(ms.get(k, 0) for k in ("retarget", "warp_field", "remap", "mouth_eyes"))
    floor = sum(ms.get(k, 0) for k in ("decode", "landmarks", "encode"))
    lines = [
        f"reenactor bench: {n} frames, work size {work_size}, {os.cpu_count()} CPU(s)",
        f"  driver:   {report['driving']}",
        f"  portrait: {report['portrait']} (prepare {report['prepare_ms']} ms, once)"
        + (f", video {report['output_size'][0]}x{report['output_size'][1]}" if report.get("output_size") else ""),
        "",
        f"  {'stage':<14}{'ms/frame':>10}{'fps':>10}",
    ]
    for k, v in ms.items():
        fps = f"{1000.0 / v:.1f}" if v > 0 and k != "mux_audio" else "-"
        lines.append(f"  {k:<14}{v:>10.2f}{fps:>10}")
    lines += [
        "",
        f"  warp alone (field + remap): {report['fps_warp_only']} fps",
        f"  render (retarget + warp + mouth/eyes): {report['fps_render_only']} fps",
        f"  end to end (decode .. encode): {report['fps_end_to_end']} fps",
        f"  the pipeline's own work (retarget, warp field, remap, mouth and eyes) {own:.1f} ms = {own / max(floor, 1e-9):.2f}x "
        f"the floor (decode + landmarks + encode) {floor:.1f} ms",
        f"  first frame written after: {report['first_frame_s']} s (from start: read, prepare, track, render)",
        f"  peak memory (max RSS): {report['peak_rss_mb']} MB",
    ]
    return "\n".join(lines)


def compare_sizes(args, sizes: list[int]) -> dict:
    """``reenactor bench --portrait-size N`` for every size, each in a fresh process (so peak
    memory is its own), the sizes taken in turn ``args.repeat`` times (this machine drifts
    between runs), and a table comparing each size's median with the first size's.

    Returns:
        ``{"runs": [one report per size: the median run, with "ms_per_frame_runs"], "text": ...}``.
    """
    import json
    import subprocess
    import sys

    rounds: list[list[dict]] = []
    with tempfile.TemporaryDirectory(prefix="reenactor-bench-") as tmp:
        for k in range(max(1, args.repeat)):
            rounds.append([])
            for side in sizes:
                out = Path(tmp) / f"{side}-{k}.json"
                cmd = [sys.executable, "-c", "import sys; from reenactor.cli import main; sys.exit(main(sys.argv[1:]))",
                       "bench", "--portrait-size", str(side), "--frames", str(args.frames), "--work-size", str(args.work_size),
                       "--json", str(out)]
                cmd += ["--driving", str(args.driving)] if args.driving else []
                cmd += ["--source", str(args.source)] if args.source else []
                done = subprocess.run(cmd, capture_output=True, text=True)
                if done.returncode != 0:
                    raise RuntimeError(f"bench at {side} px failed: {done.stderr.strip().splitlines()[-1:]}")
                rounds[-1].append(json.loads(out.read_text()))
    runs = []
    for i in range(len(sizes)):
        of_size = sorted((rnd[i] for rnd in rounds), key=_wall)
        median = dict(of_size[(len(of_size) - 1) // 2])
        median["ms_per_frame_runs"] = [round(_wall(r), 1) for r in (rnd[i] for rnd in rounds)]
        median["peak_rss_mb"] = max(r["peak_rss_mb"] for r in of_size)
        median["first_frame_s"] = max(r["first_frame_s"] or 0 for r in of_size)
        runs.append(median)
    return {"runs": runs, "text": _sizes_text(runs, sizes)}


def _wall(report: dict) -> float:
    """Wall-clock ms per frame, end to end (the encoder runs beside the renderer)."""
    return 1000.0 / report["fps_end_to_end"]


def _sizes_text(runs: list[dict], sizes: list[int]) -> str:
    """The printable comparison of :func:`compare_sizes`."""
    base = runs[0]
    work = lambda r: sum(v for k, v in r["stages_ms_per_frame"].items() if k != "mux_audio")  # noqa: E731
    size = lambda wh: "x".join(str(v) for v in wh) if wh else "-"  # noqa: E731
    n = len(base["ms_per_frame_runs"])
    lines = [f"reenactor bench: the same portrait at {', '.join(str(s) for s in sizes)} px, {base['frames']} frames each, "
             f"the sizes in turn {n} time(s)",
             f"  driver: {base['driving']}",
             "  ms/frame: wall clock, end to end, the median run; work ms: its stages summed (encoding runs on its own thread);",
             "  peak MB and 1st frame s: the worst run", "",
             f"  {'portrait':<12}{'output':>11}{'ms/frame':>10}{'x first':>9}{'work ms':>9}{'x first':>9}"
             f"{'prepare ms':>12}{'1st frame s':>13}{'peak MB':>9}  runs ms/frame"]
    for r in runs:
        lines.append(f"  {size(r['portrait_size']):<12}{size(r.get('output_size')):>11}{_wall(r):>10.1f}{_wall(r) / _wall(base):>9.2f}"
                     f"{work(r):>9.1f}{work(r) / work(base):>9.2f}"
                     f"{r['prepare_ms']:>12.0f}{r['first_frame_s'] or 0:>13.2f}{r['peak_rss_mb']:>9.0f}  "
                     + " ".join(f"{v:.1f}" for v in r["ms_per_frame_runs"]))
    if n > 1:
        for r in runs[1:]:
            pairs = [v / b for v, b in zip(r["ms_per_frame_runs"], base["ms_per_frame_runs"])]
            lines.append(f"  x first, turn by turn, {size(r['portrait_size'])}: " + " ".join(f"{v:.2f}" for v in pairs))
    stages = list(base["stages_ms_per_frame"])
    lines += ["", "  ms per frame by stage (the median run):", "  " + f"{'portrait':<12}" + "".join(f"{k[:11]:>12}" for k in stages)]
    for r in runs:
        w, h = r["portrait_size"]
        lines.append("  " + f"{f'{w}x{h}':<12}" + "".join(f"{r['stages_ms_per_frame'].get(k, 0):>12.2f}" for k in stages))
    return "\n".join(lines)
