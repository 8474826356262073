"""A cached landmark dataset of the real talking-head clips (for training).

Every clip listed under ``videos/`` in ``MANIFEST.tsv`` is run once through the
video-mode landmark detector; the raw per-frame landmarks are stored as one
``.npz`` per clip in a cache folder, so training runs never decode video again.

Each ``<cache>/<clip stem>.npz`` holds:

* ``landmarks``: (F, 478, 3) float32, driver pixels (x right, y down, z in the
  x-pixel scale, mediapipe sign); NaN where no face was found.
* ``found``: (F,) bool.
* ``fps``: float; ``size``: (width, height) int; ``stride``: frames kept every
  ``stride`` decoded frames; ``frame_index``: (F,) int index into the clip.

``<cache>/index.json`` lists clips with their identity label, frame count and
file name, plus the extraction settings. Identity labels come from the
manifest's ``identity`` column, so clips of one person share a label.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from reenactor.errors import InputError

INDEX = "index.json"
VERSION = 1

#: Root of the training caches (landmarks, crops): $REENACTOR_CACHE, else ~/.cache/reenactor.
CACHE_ROOT = Path(os.environ.get("REENACTOR_CACHE") or Path.home() / ".cache" / "reenactor")


@dataclass(frozen=True)
class ClipRecord:
    """One cached clip.

    Attributes:
        name: clip stem (file name without ``.mp4``).
        video: path of the video relative to the data folder.
        identity: manifest identity label.
        frames: number of kept frames (found or not).
        found: frames with a face.
        file: ``.npz`` file name inside the cache folder.
    """

    name: str
    video: str
    identity: str
    frames: int
    found: int
    file: str


def manifest_videos(data_dir: str | Path) -> list[tuple[str, str]]:
    """(relative video path, identity) for every clip of the manifest, sorted.

    Raises:
        InputError: the folder has no MANIFEST.tsv.
    """
    data_dir = Path(data_dir)
    manifest = data_dir / "MANIFEST.tsv"
    if not manifest.is_file():
        raise InputError(f"{data_dir} has no MANIFEST.tsv (expected the shared data folder)")
    rows = manifest.read_text(encoding="utf-8").splitlines()
    header = rows[0].split("\t")
    col_file, col_id = header.index("file"), header.index("identity")
    out = []
    for line in rows[1:]:
        cells = line.split("\t")
        if len(cells) <= max(col_file, col_id) or not cells[col_file].startswith("videos/"):
            continue
        if (data_dir / cells[col_file]).is_file():
            out.append((cells[col_file], cells[col_id]))
    return sorted(out)


def extract_clip(path: Path, stride: int = 1, max_frames: int | None = None) -> dict[str, np.ndarray]:
    """Raw landmarks of one clip (see the module docstring for the arrays)."""
    from reenactor.face.landmarks import LandmarkDetector
    from reenactor.io.video import iter_frames, probe_video

    info = probe_video(path)
    lms, found, index = [], [], []
    size = (0, 0)
    with LandmarkDetector(static_image_mode=False) as det:
        for i, frame in enumerate(iter_frames(path)):
            if max_frames is not None and len(lms) >= max_frames:
                break
            size = (frame.shape[1], frame.shape[0])
            lm = det.detect(frame)  # tracking needs every frame
            if i % stride:
                continue
            index.append(i)
            if lm is None:
                lms.append(np.full((478, 3), np.nan, np.float32))
                found.append(False)
            else:
                lms.append(lm.astype(np.float32))
                found.append(True)
    return {
        "landmarks": np.stack(lms) if lms else np.zeros((0, 478, 3), np.float32),
        "found": np.asarray(found, bool),
        "fps": np.float32(info.fps),
        "size": np.asarray(size, np.int32),
        "stride": np.int32(stride),
        "frame_index": np.asarray(index, np.int32),
    }


def build_cache(
    data_dir: str | Path,
    cache_dir: str | Path,
    stride: int = 1,
    max_frames: int | None = None,
    clips: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[ClipRecord]:
    """Extract (or reuse) the landmark cache of every manifest clip.

    Clips already cached with the same settings are not decoded again, so an
    interrupted extraction resumes where it stopped.

    Args:
        data_dir: the shared data folder (with MANIFEST.tsv and videos/).
        cache_dir: where the ``.npz`` files and ``index.json`` go.
        stride: keep every ``stride``-th frame (detection still sees all).
        max_frames: keep at most this many frames per clip.
        clips: restrict to these clip stems.
        progress: called with each clip's name after it is done.
    """
    data_dir, cache_dir = Path(data_dir), Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    settings = {"version": VERSION, "stride": stride, "max_frames": max_frames}
    old = _read_index(cache_dir)
    reuse = old.get("settings") == settings
    done = {c["name"]: c for c in old.get("clips", [])} if reuse else {}
    records: list[ClipRecord] = []
    for video, identity in manifest_videos(data_dir):
        name = Path(video).stem
        if clips is not None and name not in clips:
            continue
        file = f"{name}.npz"
        if name in done and (cache_dir / file).is_file():
            rec = ClipRecord(**{**done[name], "identity": identity})
        else:
            arrays = extract_clip(data_dir / video, stride, max_frames)
            tmp = cache_dir / f".{name}.tmp.npz"
            np.savez_compressed(tmp, **arrays)
            tmp.replace(cache_dir / file)
            rec = ClipRecord(name, video, identity, int(len(arrays["found"])), int(arrays["found"].sum()), file)
        records.append(rec)
        _write_index(cache_dir, settings, records, keep=done)
        if progress:
            progress(name)
    return records


def load_cache(cache_dir: str | Path) -> list[ClipRecord]:
    """Records of an extracted cache.

    Raises:
        InputError: no index in the folder.
    """
    idx = _read_index(Path(cache_dir))
    if not idx:
        raise InputError(f"{cache_dir} holds no landmark cache (run the extraction first)")
    return [ClipRecord(**c) for c in idx["clips"]]


def load_clip(cache_dir: str | Path, record: ClipRecord) -> dict[str, np.ndarray]:
    """Arrays of one cached clip."""
    with np.load(Path(cache_dir) / record.file) as z:
        return {k: z[k] for k in z.files}


def _read_index(cache_dir: Path) -> dict:
    path = cache_dir / INDEX
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}


def _write_index(cache_dir: Path, settings: dict, records: list[ClipRecord], keep: dict) -> None:
    names = {r.name for r in records}
    clips = [r.__dict__ for r in records] + [c for n, c in keep.items() if n not in names]
    clips.sort(key=lambda c: c["name"])
    tmp = cache_dir / f".{INDEX}.tmp"
    tmp.write_text(json.dumps({"settings": settings, "clips": clips}, indent=1))
    tmp.replace(cache_dir / INDEX)


def frames_at(path: Path, want: dict[int, int]):
    """Yield ``(want[i], frame)`` for the video frames ``i`` in ``want`` (frame index -> row of
    the landmark cache), in order, reading the video once and stopping after the last one.

    Frames are HxWx3 uint8 RGB (:func:`reenactor.io.video.iter_frames`).
    """
    from reenactor.io.video import iter_frames

    if not want:
        return
    last = max(want)
    for i, frame in enumerate(iter_frames(path)):
        if i > last:
            break
        if i in want:
            yield want[i], frame
