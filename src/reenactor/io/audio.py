"""The audio track of an output video: a source file's audio, aligned and muxed as AAC.

:func:`plan_audio` inspects the source (its first audio stream, and the time of
its first video frame); :func:`add_audio_stream` adds the matching AAC stream
to an output container; :func:`mux_audio` decodes the source, resamples it
(:class:`av.AudioResampler`, to fltp, mono or stereo, the source rate if AAC
supports it else 48 kHz), aligns it so that the audio that played with the
source's first video frame comes first, cuts or pads it with silence to the
length asked, encodes it and muxes it.  Samples travel as float32
``(channels, n)`` blocks.  :class:`reenactor.io.video.VideoWriter` uses these.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from reenactor.io.video_read import enable_threads, open_input

__all__ = ["AudioPlan", "plan_audio", "add_audio_stream", "mux_audio"]

log = logging.getLogger(__name__)

# Sample rates the AAC encoder accepts; other sources are resampled to 48 kHz.
_AAC_RATES = frozenset({96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000})
_AUDIO_BLOCK = 4096  # samples per frame handed to the AAC encoder (it re-chunks to 1024)


@dataclass(frozen=True)
class AudioPlan:
    """How the audio of ``source`` is written: AAC at ``rate`` Hz, ``layout``
    ("mono" or "stereo", ``channels`` 1 or 2), ``bit_rate`` bits per second,
    aligned to ``start`` (see :func:`plan_audio`)."""

    source: Path
    rate: int  # output sample rate
    layout: str  # "mono" or "stereo"
    channels: int
    bit_rate: int
    start: float | None  # time of the source's first video frame, None if no video


def plan_audio(source: Path) -> AudioPlan | None:
    """Inspect ``source``'s first audio stream, and the time of its first video
    frame (the alignment point); None if it has no audio stream.

    Raises:
        InputError: ``source`` is missing or not a media file.
    """
    container = open_input(source, "audio source")
    with container:
        if not container.streams.audio:
            log.info("%s has no audio stream; writing video without audio", source)
            return None
        cc = container.streams.audio[0].codec_context
        channels = 1 if cc.layout.nb_channels == 1 else 2
        rate = cc.sample_rate if cc.sample_rate in _AAC_RATES else 48000
        start = None
        if container.streams.video:
            stream = container.streams.video[0]
            try:
                for frame in container.decode(stream):
                    start = frame.time
                    break
            except av.FFmpegError:
                start = None
        return AudioPlan(
            source=source,
            rate=rate,
            layout="mono" if channels == 1 else "stereo",
            channels=channels,
            bit_rate=channels * min(64000, 4 * rate),
            start=start,
        )


def add_audio_stream(container, plan: AudioPlan):
    """Add the AAC stream for ``plan`` to the output ``container``; return it."""
    stream = container.add_stream("aac", rate=plan.rate)
    stream.codec_context.layout = plan.layout
    stream.codec_context.format = "fltp"
    stream.codec_context.bit_rate = plan.bit_rate
    stream.codec_context.time_base = Fraction(1, plan.rate)
    return stream


def mux_audio(container, stream, plan: AudioPlan, total: int) -> None:
    """Encode ``total`` samples of the plan's aligned audio into ``stream`` and mux them into ``container``."""
    written = 0
    for block in _aligned_audio(plan, total):
        frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=plan.layout)
        frame.sample_rate = plan.rate
        frame.time_base = Fraction(1, plan.rate)
        frame.pts = written
        written += block.shape[1]
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def _aligned_audio(plan: AudioPlan, total: int) -> Iterator[np.ndarray]:
    """Yield float32 ``(channels, n)`` blocks, ``total`` samples in all.

    The source audio is resampled to the plan's format, shifted so that sample
    0 is the audio at the source's first video frame (leading silence if the
    audio starts later, leading samples dropped if it starts earlier), cut at
    ``total`` samples and padded with silence if it is shorter.
    """
    emitted = 0
    for block in _source_audio(plan):
        if emitted >= total:
            break
        part = block[:, : total - emitted]
        emitted += part.shape[1]
        yield np.ascontiguousarray(part, dtype=np.float32)
    while emitted < total:
        n = min(_AUDIO_BLOCK, total - emitted)
        emitted += n
        yield np.zeros((plan.channels, n), dtype=np.float32)


def _source_audio(plan: AudioPlan) -> Iterator[np.ndarray]:
    """Resampled, start-aligned audio of ``plan.source`` as ``(channels, n)`` blocks."""
    container = open_input(plan.source, "audio source")
    with container:
        stream = container.streams.audio[0]
        enable_threads(stream)
        resampler = av.AudioResampler(format="fltp", layout=plan.layout, rate=plan.rate)
        skip = 0  # source samples still to drop at the start
        first = True

        def blocks(frames: list) -> Iterator[np.ndarray]:
            nonlocal skip
            for rf in frames:
                block = rf.to_ndarray()
                if skip:
                    cut = min(skip, block.shape[1])
                    block, skip = block[:, cut:], skip - cut
                if block.shape[1]:
                    yield block

        decoded = container.decode(stream)
        while True:
            try:
                frame = next(decoded)
            except StopIteration:
                break
            except av.FFmpegError as exc:
                log.warning("%s: audio stops early, the rest does not decode (%s)", plan.source, exc)
                break
            if first:
                first = False
                offset = 0.0
                if plan.start is not None and frame.time is not None:
                    offset = frame.time - plan.start
                if offset > 0:
                    yield np.zeros((plan.channels, round(offset * plan.rate)), dtype=np.float32)
                else:
                    skip = round(-offset * plan.rate)
            try:
                out = resampler.resample(frame)
            except ValueError:  # the source changed rate or layout mid-stream
                out = resampler.resample(None)
                resampler = av.AudioResampler(format="fltp", layout=plan.layout, rate=plan.rate)
                out += resampler.resample(frame)
            yield from blocks(out)
        yield from blocks(resampler.resample(None))
