"""`reenactor bench --driver-minutes N`: a long driver, built by looping the bench clip, and the
memory used along the run.

The long driver is the clip decoded again and again through a generator
(:func:`looped_frames`), never written out as a video; the driver is tracked
from one such pass and its mouth patches are cut from a second one, as for a
video file (:func:`reenactor.pipeline.video_source`). The resident memory is
read from ``/proc/self/statm`` at 10, 50 and 100 % of the frames of each
pass and at the end (:class:`RssSampler`), so one run shows whether it stays flat.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import Iterator

import numpy as np

#: Fractions of the driver's frames after which the resident memory is read.
SAMPLE_AT = (0.1, 0.5, 1.0)


def rss_mb() -> float:
    """This process's resident memory now, in MB (``/proc/self/statm``; NaN where there is none)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, IndexError, ValueError):
        return float("nan")
    return pages * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def peak_mb() -> float:
    """This process's peak resident memory so far, in MB (``ru_maxrss``, KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class RssSampler:
    """Reads the resident memory after given frame counts of named passes.

    Attributes:
        samples: (pass name, frames done, RSS MB, peak RSS MB so far) in the order taken.
    """

    def __init__(self, total: int, fractions=SAMPLE_AT) -> None:
        self.total = total
        self.marks = sorted({max(1, int(round(f * total))) for f in fractions})
        self.samples: list[tuple[str, int, float, float]] = []

    def watch(self, name: str, frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        """``frames`` passed through, sampling as each mark's frame is handed on (the
        frames before it used, the memory the pass holds by then)."""
        for n, frame in enumerate(frames, 1):
            if n in self.marks:
                self.sample(name, n)
            yield frame

    def sample(self, name: str, n: int) -> None:
        self.samples.append((name, n, round(rss_mb(), 1), round(peak_mb(), 1)))

    def lines(self) -> list[str]:
        return [f"    {name:<9} at frame {n:>6} ({100 * n / self.total:5.1f} %): RSS {rss:7.1f} MB, peak so far {peak:7.1f} MB"
                for name, n, rss, peak in self.samples]


def looped_frames(path: Path, n_frames: int) -> Iterator[np.ndarray]:
    """``n_frames`` HxWx3 uint8 RGB frames: the video at ``path`` decoded from the start again and again."""
    from reenactor.io.video import iter_frames

    done = 0
    while done < n_frames:
        before = done
        for frame in iter_frames(path, n_frames - done, what="driver"):
            yield frame
            done += 1
        if done == before:
            return  # an empty clip: nothing to loop


def long_driver_run(reenactor, portrait, clip: Path, minutes: float, out: Path) -> tuple[dict, RssSampler]:
    """Animate ``portrait`` with ``clip`` looped to ``minutes`` (at the clip's frame rate) into ``out``.

    Returns:
        (the statistics of :func:`reenactor.pipeline.run`, the sampler with
        the RSS after 10/50/100 % of the tracking and of the rendering pass).
    """
    from reenactor.io.video import probe_video
    from reenactor.pipeline import TrackedSource, VideoSink, run

    fps = probe_video(clip, what="driver").fps
    n = max(1, int(round(minutes * 60 * fps)))
    sampler = RssSampler(n)
    source = TrackedSource(sampler.watch("tracking", looped_frames(clip, n)), fps, total=n,
                           reread=lambda: sampler.watch("rendering", looped_frames(clip, n)))
    stats = run(reenactor, portrait, source, VideoSink(out))
    sampler.sample("end", stats["frames"])
    return stats, sampler
