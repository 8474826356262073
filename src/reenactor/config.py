"""Configuration: frozen dataclasses holding every default of the pipeline.

Nothing else in the package hard-codes a tunable value; modules receive the
relevant sub-config. Every section checks its values when it is made
(allowed choices, ranges, ordered pairs) and raises :class:`ConfigError`
with a one-line message. Build variants with :func:`dataclasses.replace`
(which checks again)::

    from dataclasses import replace
    cfg = ReenactorConfig()
    cfg = replace(cfg, render=replace(cfg.render, work_size=384))
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reenactor.configrules import ConfigError, Range, validate as _validate


#: Allowed values of the configuration's named choices (the command line offers the same).
MOUTH_MODES = ("driver", "learned", "fdgan", "synthetic", "off")
BACKGROUNDS = ("still", "warp")
RETARGET_METHODS = ("geometric", "ldnet")
X264_PRESETS = ("auto", "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
RETARGET_MODES = ("relative", "absolute")
REFERENCE_RULES = ("match", "neutral")
POSE_MODES = ("auto", "driver", "portrait")
#: Channels of ``RetargetConfig.gain`` (regions: :mod:`reenactor.motion.controls`) and axes of ``pose_offset``.
GAIN_CHANNELS = ("mouth", "eyes", "brows", "gaze")
POSE_AXES = ("yaw", "pitch", "roll")


def describe(cls: type, name: str) -> str:
    """The ``#:`` comment written above field ``name`` of config class ``cls``, as one line."""
    import inspect
    import re

    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):  # no source shipped (a frozen build): no help text
        return ""
    for i, line in enumerate(lines):
        if re.match(rf"\s+{name}\s*:", line):
            doc = []
            j = i - 1
            while j >= 0 and lines[j].strip().startswith("#:"):
                doc.insert(0, lines[j].strip()[2:].strip())
                j -= 1
            text = re.sub(r":\w+:`~?([^`]*)`", r"\1", " ".join(doc))  # Sphinx roles -> plain names
            return text.replace("``", "")
    raise KeyError(f"{cls.__name__} has no field {name!r}")


_PROB = Range(0.0, 1.0)
_NONNEG = Range(0.0)
_POS = Range(0.0, open_lo=True)
_COUNT = Range(1, integer=True)
_NONNEG_INT = Range(0, integer=True)


@dataclass(frozen=True)
class DetectionConfig:
    """Face detection and tracking (mediapipe's Face Mesh networks, 478 points with irises)."""

    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    max_faces: int = 4
    #: Video: while fewer than ``max_faces`` faces are tracked, look for new
    #: ones every this many frames (1 = every frame, as mediapipe); tracked
    #: faces are unaffected, a new face is picked up at most this late.
    redetect_frames: int = 5
    #: Largest side of the image given to the portrait face detector.
    portrait_detect_side: int = 1024

    def __post_init__(self) -> None:
        _validate(self, {"min_detection_confidence": Range(0.0, 1.0, open_lo=True, open_hi=True),
                         "min_tracking_confidence": _PROB, "max_faces": _COUNT, "redetect_frames": _COUNT,
                         "portrait_detect_side": Range(64, integer=True)})


@dataclass(frozen=True)
class SmoothingConfig:
    """One-Euro filter on driver landmarks, in face-size-normalised units.

    Landmarks are divided by the inter-ocular distance before filtering, so
    the parameters do not depend on the clip's resolution.
    """

    min_cutoff: float = 12.0  # Hz: lower = smoother when still
    beta: float = 2.0  # speed coefficient: higher = less lag on fast motion
    d_cutoff: float = 1.0  # Hz: cutoff of the derivative estimate
    #: Frames over which a re-found face blends back from the held pose.
    lost_blend_frames: int = 6
    #: Whole driver videos are filtered forwards and backwards and the two
    #: passes averaged, which removes the forward filter's lag behind fast
    #: motion (the live session, frame by frame, is always causal).
    two_pass: bool = True

    def __post_init__(self) -> None:
        _validate(self, {"min_cutoff": _POS, "beta": _NONNEG, "d_cutoff": _POS, "lost_blend_frames": _NONNEG_INT})


@dataclass(frozen=True)
class RetargetConfig:
    """How driver motion is transferred onto the portrait's face."""

    #: "relative": the driver's change from a reference frame is applied to the
    #: portrait's own landmarks (cross-identity). "absolute": the driver's
    #: landmarks are used as they are after a global alignment (same person).
    mode: str = "relative"
    #: Driver reference frame (the default of ``--reference-frame``); None
    #: chooses it by ``reference``.
    reference_frame: int | None = None
    #: How the reference frame is chosen when none is given: "match" takes the
    #: driver frame whose head pose and expression are closest to the
    #: portrait's own (like maps to like; a portrait that is a frame of the
    #: driver gets that frame), "neutral" the driver's most neutral frontal
    #: frame whatever the portrait looks like.
    reference: str = "match"
    #: Bounds of the per-region proportion ratios (portrait / driver).
    min_ratio: float = 0.6
    max_ratio: float = 1.7
    #: Bounds of the eye-opening ratio used to scale eyelid motion.
    eye_min_ratio: float = 0.4
    eye_max_ratio: float = 2.5
    #: mediapipe reads a fully closed eye with some lid gap left (the lash
    #: line): 0.04-0.25 of the open gap at the deepest blink of the real clips
    #: (median 0.22). A driver gap at or below this fraction of its reference
    #: gap closes the portrait's eye fully; the correction fades out by three
    #: times this fraction, so half-blinks keep their depth (0 disables).
    eye_closed_fraction: float = 0.2
    #: Blinks are read per eye, and the tracker often reads one eye's lids
    #: deeper than the other's (0.23 / 0.38 of the open gap where dlib sees a
    #: symmetric blink). Below ``3 * eye_closed_fraction`` a half-difference d
    #: between the eyes is shrunk to d * min(1, (|d| / this)^2); winks keep theirs (0 disables).
    blink_coupling: float = 0.15
    #: The portrait's head turn (yaw) is eased towards this limit, in degrees
    #: either way: unchanged up to ``max_yaw - 10`` (or the portrait's own yaw
    #: if larger), then compressed so it never passes 10 deg more. A 2D warp of
    #: one picture has no far side of the head to show, and beyond ~45 deg the
    #: face is squeezed inside a head outline that does not turn (0 disables).
    max_yaw: float = 45.0
    #: A portrait turned by 30 deg or more turns back towards the camera by at
    #: most this many degrees (one turned 15-30 deg by up to 35 less twice its
    #: turn past 15): its far side is squeezed and cut at the outline, and a
    #: warp stretches it into ghosts (0 lets it turn as far as the driver).
    max_reveal: float = 6.0
    #: Multiplier on the transferred head translation and scale change.
    translation_gain: float = 1.0
    #: Multiplier on the transferred expression (the driver's landmark change
    #: from its reference, head pose removed). Transferred as measured: 1.3
    #: brought the cross amplitude ratios into 0.8-1.25 but cost self AKD and
    #: PSNR against the ground truth (docs/benchmarks.md, "Gains").
    expression_gain: float = 1.0
    #: "geometric" (:class:`reenactor.motion.retarget.Retargeter`) or "ldnet"
    #: (the learned Landmark Disentanglement Network, shipped ONNX weights;
    #: see docs/ldnet.md for how the two compare).
    method: str = "geometric"
    #: Head motion (relative mode): "driver" follows the driver's head
    #: (rotation, translation, scale), "portrait" keeps the portrait's own head
    #: pose and transfers only expression and gaze, "auto" is "portrait" for a
    #: still driver image (as LivePortrait does) and "driver" otherwise.
    pose: str = "auto"
    #: Multiplier on the driver's head motion: rotation angle, translation and
    #: scale change (0 keeps the portrait's pose, 1 as measured).
    pose_scale: float = 1.0
    #: Degrees added to the head's yaw, pitch, roll on every frame (camera
    #: axes, after pose and pose_scale; yaw still eased into max_yaw).
    pose_offset: dict = field(default_factory=dict)
    #: Per-channel expression multipliers on top of expression_gain, e.g.
    #: {"mouth": 1.3}; channels: mouth (lips, jaw, chin), eyes (lids), brows,
    #: gaze (irises).
    gain: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _validate(
            self,
            {"mode": RETARGET_MODES, "reference_frame": Range(0, integer=True, optional=True),
             "reference": REFERENCE_RULES, "min_ratio": _POS, "max_ratio": _POS, "eye_min_ratio": _POS,
             "eye_max_ratio": _POS, "eye_closed_fraction": Range(0.0, 1.0, open_hi=True), "blink_coupling": Range(0.0, 1.0), "max_yaw": Range(0.0, 90.0), "max_reveal": Range(0.0, 90.0),
             "translation_gain": _NONNEG, "expression_gain": _NONNEG, "method": RETARGET_METHODS,
             "pose": POSE_MODES, "pose_scale": Range(0.0, 5.0)},
            ordered=(("min_ratio", "max_ratio"), ("eye_min_ratio", "eye_max_ratio")),
        )
        for name, known, rule in (("gain", GAIN_CHANNELS, Range(0.0, 5.0)), ("pose_offset", POSE_AXES, Range(-90.0, 90.0))):
            value = getattr(self, name)
            if not isinstance(value, dict):
                raise ConfigError(f"RetargetConfig.{name} must be a mapping like {{{known[0]!r}: 1.0}}, not {value!r}")
            for key, v in value.items():
                if key not in known:
                    raise ConfigError(f"RetargetConfig.{name}: unknown name {key!r} (known: {', '.join(known)})")
                rule.check(f"RetargetConfig.{name}[{key!r}]", v)
            object.__setattr__(self, name, {k: float(v) for k, v in value.items()})  # a private copy


@dataclass(frozen=True)
class RenderConfig:
    """Face crop, dense warp, mouth, eyes and paste-back."""

    #: Side of the square face crop everything is rendered in (pixels).
    work_size: int = 512
    #: Crop side as a multiple of the face size (max of eye-to-chin height and
    #: face width): room for hair, ears and neck.
    crop_scale: float = 2.6
    #: Vertical shift of the crop centre, in face sizes (negative = up, hair).
    crop_shift: float = -0.08
    #: Where the crop reaches past a tightly framed portrait, the repeated edge
    #: pixels are blurred (Gaussian sigma in crop sides) instead of drawing
    #: streaks; seen with ``--crop`` (0 keeps the streaks).
    crop_margin_blur: float = 0.03
    #: Width of the soft margin, in pixels of the crop, where the warp decays to
    #: zero so the crop border never moves.
    border_margin: int = 40
    #: The portrait's own edges stay put too: within this distance of an edge
    #: of the picture (in face sizes) the motion outside the face fades to
    #: zero, so hair or shoulders cut by the picture's edge stay attached to it
    #: and nothing is sampled from beyond it (where a mirror image of the hair
    #: drew a "bun" above a head that moved down). Within ~0.1 face sizes of
    #: the face outline the face's own motion wins (0 disables).
    edge_margin: float = 0.35
    #: Head-rigid motion decay radius outside the face, in face sizes.
    hair_radius: float = 0.85
    #: How much of the head motion the neck below the chin follows (0..1).
    neck_follow: float = 0.15
    #: Gaussian sigma (in face sizes) spreading face-contour motion outwards.
    contour_sigma: float = 0.12
    #: Resolution of the smooth outer displacement field (then upsampled).
    field_size: int = 64
    #: Feather (pixels) between the exact face-mesh field and the outer field.
    face_feather: int = 3
    #: Where the two fields disagree at the face outline by more than
    #: ``seam_gap_start`` crop pixels (an occluding edge: the far cheek of a turned head,
    #: a dropped jaw), the feather blends the two *samples* instead of the two
    #: displacements, whose mean would sample a smeared strip of whatever lies
    #: between them (a second, ghost outline beside the face). Fully from the
    #: ``seam_gap_full`` on (0 disables: displacements are always blended).
    seam_gap_start: float = 0.5
    seam_gap_full: float = 2.0
    #: Feather (pixels) of the face outline where the seam layer mixes the two
    #: samples: an occluding silhouette is sharp (with ``face_feather`` = 3 the
    #: far cheek of a turned 1200 px portrait faded over ~10 px).
    seam_feather: int = 1
    #: Revealed regions: triangles the portrait shows at a facing cosine below
    #: this (edge-on) take their texture from the mirrored side of the face
    #: when that side is better seen (0 disables the mirrored fill).
    mirror_visibility: float = 0.45
    #: Lash band in the upper lids: its height as a fraction of the distance
    #: from the lid to the mesh ring above (0 disables it). The band stretches
    #: with the lid while the eye is open or half closed and keeps its own
    #: height as the eye closes fully, so a full blink shows a crisp lash line
    #: (mediapipe re-reads 0.27 of the open eye instead of 0.59). Kept rigid at
    #: every closure, it made dlib read real half-blinks as more open
    #: (hdtf_katie_hill eye-open corr 0.59 -> -0.22).
    lash_fraction: float = 0.85
    #: Closing lids: where the upper-lid skin between the lash line and the
    #: ring above it is stretched from ``lid_stretch_start`` to
    #: ``lid_stretch_full`` times its height in the portrait, it is blurred
    #: along the eye (Gaussian sigma ``lid_blur`` eye widths). A wide-open
    #: portrait eye leaves only a thin band of lid skin, whose horizontal
    #: detail turns into vertical streaks when stretched over a closed lid
    #: (docs/wink.jpg). 0 disables it.
    lid_blur: float = 0.12
    lid_stretch_start: float = 1.6
    lid_stretch_full: float = 2.6
    #: Lash line of a closing eye: a soft line of the portrait's lash colour
    #: along the target upper lid, at opacity ``lash_line`` once the eye is
    #: closed by ``lash_line_full`` of the portrait's opening (fading in from
    #: ``lash_line_start``), ``lash_line_width`` eye widths thick, thinning
    #: towards the corners. The warped lashes of a wide-open eye read as a
    #: dotted line on a closed lid (0 disables it).
    lash_line: float = 0.8
    lash_line_start: float = 0.6
    lash_line_full: float = 0.95
    lash_line_width: float = 0.045
    #: Head ring: vertices outside the upper face outline that turn with the
    #: head in 3D (hair, temples, ears), offset outwards and backwards in face
    #: widths; 0 outward disables it. Off by default: it turns the hair more
    #: convincingly, but leaves a hard edge along the far side of the forehead
    #: at yaw beyond ~25 deg (docs/strips show both).
    head_ring_outward: float = 0.0
    head_ring_back: float = 0.25
    #: Inner mouth: "driver" (driver's mouth interior, colour matched),
    #: "learned" (painted by the shipped inner-mouth network),
    #: "fdgan" (the FD-GAN translator, dictionaries from the portrait's lips),
    #: "synthetic" (procedural cavity and teeth) or "off".
    mouth: str = "driver"
    #: Model of the "learned" inner mouth: a registry name of
    #: :mod:`reenactor.weights` or a path to an ``.onnx`` file.
    mouth_model: str = "mouth"
    #: Model of the "fdgan" inner mouth: a registry prefix of
    #: :mod:`reenactor.weights` (``<prefix>_extractor``, ``<prefix>_translator``)
    #: or a folder holding ``extractor.onnx`` and ``translator.onnx``.
    fdgan_model: str = "fdgan_lips"
    #: Let an FD-GAN mouth trained with the driver's mouth layout (``--cond hint``) see it.
    mouth_hint: bool = True
    #: Inner-mouth blending starts when the target opening exceeds the
    #: portrait's by this fraction of the mouth width, and is complete
    #: ``mouth_open_ramp`` mouth widths further.
    mouth_open_threshold: float = 0.02
    mouth_open_ramp: float = 0.06
    #: Feather of the inner-mouth mask, as a fraction of the mouth width.
    mouth_feather: float = 0.06
    #: Re-render irises at the retargeted gaze (portrait iris lifted off and
    #: pasted back, clipped to the lids). Off by default: with it the judge's
    #: eye-open correlation fell (10 dev pairs, dlib, 60 frames: 0.37 vs 0.49
    #: without, lower on 9 of 10) and so did the eye-region PSNR of the self
    #: clips (22.47 vs 22.67 dB); without it the irises move with the warped
    #: eye mesh (the iris points are part of it), so gaze still transfers.
    eyes: bool = False
    #: Background: "still" (the person moves over a background plate filled
    #: once per portrait, see render/layers.py) or "warp" (everything in the
    #: crop is warped, the background near the head moves with it).
    background: str = "still"
    #: mediapipe selfie segmentation model: 0 general (square), 1 landscape.
    layer_model: int = 0
    #: Guided-filter radius refining the person mask at the hair edge, as a
    #: fraction of the region's longer side.
    layer_refine_radius: float = 0.012
    #: Guided-filter regularisation ((0..1 intensity)^2; larger = smoother).
    layer_refine_eps: float = 2e-4
    #: Growth of the person mask before the background fill, as a fraction of
    #: the region's longer side (keeps hair colour out of the plate).
    layer_plate_grow: float = 0.015
    #: Longest side (pixels) the background fill is computed at.
    layer_fill_side: int = 512
    #: How deep the background's texture is mirrored into the hole behind
    #: the person, as a fraction of the region's longer side (0: smooth fill).
    layer_mirror_depth: float = 0.06
    #: Blur of the fill behind the person, as a fraction of the region's side.
    layer_fill_blur: float = 0.004
    #: Widest hair strand (fraction of the region's side) lifted from the
    #: background into the person layer when the mask missed it.
    layer_strand_width: float = 0.004
    #: Least share of a band around the face the person mask must cover for
    #: layers to be used (else the portrait is warped as a whole).
    layer_min_cover: float = 0.25

    def __post_init__(self) -> None:
        nonneg = ("crop_margin_blur", "edge_margin", "contour_sigma", "seam_gap_start", "seam_gap_full", "lid_blur",
                  "lash_line_width", "head_ring_outward", "head_ring_back", "mouth_open_threshold", "mouth_feather",
                  "layer_refine_radius", "layer_refine_eps", "layer_plate_grow", "layer_mirror_depth",
                  "layer_fill_blur", "layer_strand_width")
        rules = {name: _NONNEG for name in nonneg}
        rules.update({name: _PROB for name in ("neck_follow", "mirror_visibility", "lash_fraction", "lash_line",
                                               "lash_line_start", "lash_line_full", "layer_min_cover")})
        rules.update({name: _NONNEG_INT for name in ("border_margin", "face_feather", "seam_feather")})
        rules.update({
            "work_size": Range(128, 2048, integer=True), "crop_scale": Range(1.0, open_lo=True), "crop_shift": Range(-1.0, 1.0),
            "hair_radius": _POS, "field_size": Range(8, integer=True), "lid_stretch_start": _POS, "lid_stretch_full": _POS,
            "mouth": MOUTH_MODES, "mouth_open_ramp": _POS, "background": BACKGROUNDS,
            "layer_model": (0, 1), "layer_fill_side": Range(32, integer=True), "mouth_hint": (False, True), "eyes": (False, True),
        })
        _validate(self, rules, ordered=(("lid_stretch_start", "lid_stretch_full"), ("lash_line_start", "lash_line_full")))
        if self.seam_gap_full and self.seam_gap_start > self.seam_gap_full:  # seam_gap_full 0 disables the seam layer
            raise ConfigError(f"RenderConfig.seam_gap_start ({self.seam_gap_start}) must not exceed seam_gap_full ({self.seam_gap_full})")
        if self.work_size % 2:
            raise ConfigError(f"RenderConfig.work_size must be even, not {self.work_size}")


@dataclass(frozen=True)
class OutputConfig:
    """Encoding and marking of the outputs.

    Every output file is tagged as synthetic in its metadata
    (:mod:`reenactor.io.provenance`); ``watermark`` also draws a small visible
    label on every frame (:mod:`reenactor.render.watermark`).
    """

    crf: int = 18
    #: x264 preset; "auto": veryfast, and above QHD (2560x1440) ultrafast with
    #: CABAC and deblocking (:func:`reenactor.io.video_write.encoder_options`).
    preset: str = "auto"
    #: Draw a small visible "synthetic - reenactor" label in the bottom-right
    #: corner of every frame (the metadata tag is always written).
    watermark: bool = False
    #: Videos: longer side at most this many pixels, and never larger than the
    #: 4K UHD frame (3840x2160 or 2160x3840), which hardware decoders and
    #: browsers play; 0 keeps the portrait's full size.
    max_size: int = 3840

    def __post_init__(self) -> None:
        _validate(self, {"crf": Range(0, 51, integer=True), "preset": X264_PRESETS, "watermark": (False, True),
                         "max_size": _NONNEG_INT})


@dataclass(frozen=True)
class ReenactorConfig:
    """All settings of the pipeline. The defaults are the recommended ones."""

    detection: DetectionConfig = field(default_factory=DetectionConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    retarget: RetargetConfig = field(default_factory=RetargetConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    #: Largest accepted side of a portrait, in pixels.
    max_image_side: int = 8192

    def __post_init__(self) -> None:
        _validate(self, {"max_image_side": Range(32, integer=True)})
