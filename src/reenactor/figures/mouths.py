"""docs/fdgan/mouth_strip.jpg: every inner-mouth mode side by side on the hard cases of issue 16;
docs/fdgan/self_mouth.jpg: the learned and FD-GAN mouths against the truth in self-reenactment.

Cases (portrait, driver, what it tests), all drivers of identities held out
of the FD-GAN and learned-mouth training:

* a beard and moustache (Jake) driven by HDTF Katie Hill;
* an oil painting (Mona Lisa) driven by LivePortrait d0;
* a scream: MEAD W009 "surprised" driving Scarlett;
* a portrait that already shows its teeth (SadTalker happy1) driven by LivePortrait d6;
* a small driver: GRID's 360x288 speaker (face about 100 px) driving a beard photo.

Per case the driver is tracked over its first 150 frames and the 3 frames
with the widest mouth opening (at least 5 apart) are shown; the rows are the
driver's own mouth, then the portrait's with ``--mouth`` driver, learned,
synthetic and fdgan. Returns an ``HxWx3`` uint8 RGB array.

The self figure (:func:`fdgan_self_mouth`) drives each clip's first frame by
the clip itself, as the self protocol does, over its first 60 frames (the
protocol's 60), and shows the 3 widest openings: the truth (the clip's own
mouth), then ``--mouth learned`` and ``fdgan``. Its cases are the two
evaluation clips where the shipped FD-GAN gains most on the inner-mouth
score and the one where it loses most (docs/fdgan.md, session 17).

The dlib figure (:func:`fdgan_dlib_mouth`) shows why the painted mouths lose
the cross protocol's mouth-open correlation: for dev-half cross pairs, at the
driver's widest opening (by dlib, first 60 frames, all of them rendered as
the evaluation renders them), the driver's mouth and the portrait's with ``--mouth``
driver, learned and fdgan, each with dlib's inner-lip points and its
reading (inner-lip gap over the inter-ocular distance).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reenactor.figures.features import _outer_mouth
from reenactor.figures.tiles import (config_with, heading, label, mouth_tile_affine, read_clip, read_portrait, render_row,
                                    spaced_peaks, stack_rows)

#: (portrait, driver, caption) of the strip.
CASES = (
    ("portraits/EAMM__jake4.png", "videos/SadTalker__WDA_KatieHill_000.mp4", "moustache"),
    ("portraits/EAMM__mona.png", "videos/LivePortrait__d0.mp4", "painting"),
    ("portraits/EAMM__scarlett.jpg", "videos/dreamtalk__W009_front_surprised_level3_001.mp4", "scream"),
    ("portraits/SadTalker__happy1.png", "videos/LivePortrait__d6.mp4", "portrait with teeth"),
    ("portraits/deepface__img16.jpg", "videos/LipNet__bbaf2n.mpg", "small driver (GRID)"),
)
MODES = ("driver", "learned", "synthetic", "fdgan")
PICKS = 3


def fdgan_mouth_strip(data: Path) -> np.ndarray:
    """See the module docstring."""
    from reenactor.api import Reenactor
    from reenactor.render.mouth import mouth_opening

    engines = {m: Reenactor(config_with(render={"mouth": m})) for m in MODES}
    blocks = []
    for portrait_rel, driver_rel, caption in CASES:
        portrait = read_portrait(data, portrait_rel)
        frames, fps = read_clip(data, driver_rel, 150)
        track = engines[MODES[0]].track(frames, fps)
        openings = np.array([mouth_opening(lm) if f else -1.0 for lm, f in zip(track.landmarks, track.found)])
        picks = sorted(spaced_peaks(openings, PICKS))
        rows = [np.hstack([label(_outer_mouth(frames[i], track.landmarks[i]), f"driver {i}", (4, 14), 0.42) for i in picks])]
        rows += [render_row(engines[m], portrait, track, picks, _outer_mouth, m, (4, 14), 0.42) for m in MODES]
        block = np.vstack(rows)
        blocks.append(np.vstack([heading(f"{caption}: {Path(portrait_rel).name} <- {Path(driver_rel).name}", block.shape[1]), block]))
    return stack_rows(blocks, gap=6)


#: (clip, caption) of the self figure.
SELF_CASES = (
    ("videos/SadTalker__RD_Radio34_000.mp4", "HDTF Radio34: fdgan's largest gain (inner-mouth SSIM +0.057)"),
    ("videos/styletalk__furious_talk2_clip6.mp4", "StyleTalk furious2: second largest gain (+0.038)"),
    ("videos/LIA__driving3.mov", "LIA driving3: largest loss (-0.059)"),
)


def fdgan_self_mouth(data: Path) -> np.ndarray:
    """See the module docstring."""
    from reenactor.api import Reenactor
    from reenactor.render.mouth import mouth_opening

    modes = ("learned", "fdgan")
    engines = {m: Reenactor(config_with(render={"mouth": m})) for m in modes}
    blocks = []
    for clip_rel, caption in SELF_CASES:
        frames, fps = read_clip(data, clip_rel, 60)
        track = engines[modes[0]].track(frames, fps)
        openings = np.array([mouth_opening(lm) if f else -1.0 for lm, f in zip(track.landmarks, track.found)])
        picks = sorted(spaced_peaks(openings, PICKS))
        rows = [np.hstack([label(_outer_mouth(frames[i], track.landmarks[i]), f"truth {i}", (4, 14), 0.42) for i in picks])]
        rows += [render_row(engines[m], frames[0], track, picks, _outer_mouth, m, (4, 14), 0.42) for m in modes]
        block = np.vstack(rows)
        blocks.append(np.vstack([heading(caption, block.shape[1], scale=0.42), block]))
    return stack_rows(blocks, gap=6)


#: Dev-half cross pairs of the dlib figure (reenactor.eval sets.tsv names).
DLIB_ITEMS = ("hathaway__hdtf_markey", "df_img57__eamm_happy", "mona_lisa__lp_d0", "df_img59__styleheat_video")
DLIB_MODES = ("driver", "learned", "fdgan")
DLIB_TILE = (200, 140)


def _dlib_mouth_tile(image: np.ndarray, face, text: str) -> np.ndarray:
    """A ``DLIB_TILE`` crop of ``image`` (HxWx3 uint8 RGB) around dlib's mouth (2.2 mouth widths wide),
    dlib's inner-lip points (60-67) drawn in green, labelled ``text`` and dlib's mouth-open reading."""
    import cv2

    from reenactor.eval.metrics import expression_features

    meas = face.measure(image, descriptor=False)
    if not meas.found:
        return label(np.full((DLIB_TILE[1], DLIB_TILE[0], 3), 255, np.uint8), f"{text}: no face", (4, 14), 0.42)
    lm = meas.landmarks
    m = mouth_tile_affine(lm, DLIB_TILE, range(48, 68), (48, 54))
    tile = cv2.warpAffine(image, m, DLIB_TILE, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    for x, y in lm[60:68] @ m[:, :2].T + m[:, 2]:
        cv2.circle(tile, (int(round(x)), int(round(y))), 2, (0, 230, 0), -1, cv2.LINE_AA)
    return label(tile, f"{text}: {expression_features(lm)['mouth_open']:.2f}", (4, 14), 0.42)


def fdgan_dlib_mouth(data: Path) -> np.ndarray:
    """See the module docstring. Needs dlib (the eval extra)."""
    from reenactor.api import Reenactor
    from reenactor.eval.dlibface import DlibFace
    from reenactor.eval.media import read_image, read_video
    from reenactor.eval.metrics import expression_features
    from reenactor.eval.sets import load_sets

    face = DlibFace()
    engines = {m: Reenactor(config_with(render={"mouth": m})) for m in DLIB_MODES}
    items = {i.name: i for i in load_sets()}
    rows = []
    for name in DLIB_ITEMS:
        item = items[name]
        clip = read_video(data / item.driver, 60)
        opening = [expression_features(ms.landmarks)["mouth_open"] if ms.found else -1.0
                   for ms in (face.measure(f, descriptor=False) for f in clip.frames)]
        t = int(np.argmax(opening))
        portrait = read_image(data / item.portrait)
        tiles = [_dlib_mouth_tile(clip.frames[t], face, f"driver t={t}")]
        for mode, engine in engines.items():
            # the whole 60 frames, as the evaluation renders them: the automatic reference and the
            # two-pass smoothing both depend on every frame of the clip
            out = engine.animate_frames(portrait, clip.frames, fps=clip.fps, reference_frame=None, motion="relative", crop=False)
            tiles.append(_dlib_mouth_tile(out[t], face, mode))
        row = np.hstack(tiles)
        rows.append(np.vstack([heading(f"{name} (dev)", row.shape[1], scale=0.42), row]))
    return stack_rows(rows, gap=6)
