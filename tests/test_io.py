"""Tests for reenactor.io: images, videos, atomic output.

All media is synthesised in tmp_path (no dependency on ../shared).
"""

from __future__ import annotations

import os
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageOps

from reenactor.errors import InputError, OutputError
from reenactor.io import (
    VideoWriter,
    atomic_output,
    check_output_path,
    has_audio,
    is_image_path,
    iter_frames,
    probe_video,
    read_image,
    write_image,
)

# ---------------------------------------------------------------------------
# helpers


def smooth_rgb(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth colourful HxWx3 uint8 image (compresses well with lossy codecs)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    phase = seed * 0.3
    r = 128 + 100 * np.sin(x / w * 2 * np.pi + phase)
    g = 128 + 100 * np.cos(y / h * 2 * np.pi - phase)
    b = 128 + 100 * np.sin((x + y) / (w + h) * 2 * np.pi + 2 * phase)
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def png16(path: Path, arr: np.ndarray, color_type: int) -> None:
    """Write a 16-bit PNG by hand (Pillow cannot write 16-bit colour PNGs)."""
    h, w = arr.shape[:2]
    rows = arr.reshape(h, -1).astype(">u2")
    raw = b"".join(b"\x00" + rows[y].tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def make_video(
    path: Path,
    n_frames: int = 20,
    fps: Fraction | int = 25,
    size: tuple[int, int] = (64, 48),
    audio_seconds: float | None = None,
    vcodec: str = "libx264",
    acodec: str = "aac",
    audio_rate: int = 44100,
    rotation: int | None = None,
) -> list[np.ndarray]:
    """Write a synthetic video (optionally with a 440 Hz sine track); return its frames."""
    w, h = size
    frames = [smooth_rgb(h, w, seed=i) for i in range(n_frames)]
    with av.open(str(path), "w") as c:
        vs = c.add_stream(vcodec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        if rotation is not None:
            vs.set_display_rotation(rotation)
        aus = None
        if audio_seconds is not None:
            aus = c.add_stream(acodec, rate=audio_rate)
            aus.codec_context.layout = "mono"
            aus.codec_context.format = "s16" if acodec.startswith("pcm_") or acodec == "mp2" else "fltp"
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts = i
            for p in vs.encode(vf):
                c.mux(p)
        for p in vs.encode(None):
            c.mux(p)
        if aus is not None:
            n = int(round(audio_seconds * audio_rate))
            t = np.arange(n) / audio_rate
            wave = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            fmt = aus.codec_context.format.name
            step = aus.codec_context.frame_size or 1024
            for start in range(0, n, step):
                block = wave[None, start : start + step]
                if fmt == "s16":
                    block = (block * 32767).astype(np.int16)
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format=fmt, layout="mono")
                af.sample_rate = audio_rate
                af.pts = start
                af.time_base = Fraction(1, audio_rate)
                for p in aus.encode(af):
                    c.mux(p)
            for p in aus.encode(None):
                c.mux(p)
    return frames


def decode_audio(path: Path) -> tuple[np.ndarray, int, float]:
    """(mono float samples, rate, stream duration in s) of the first audio stream."""
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        rate = s.codec_context.sample_rate
        samples = np.concatenate([f.to_ndarray().mean(axis=0) for f in c.decode(s)])
        # Matroska keeps no per-stream duration; decoded length is within one AAC frame.
        duration = float(s.duration * s.time_base) if s.duration else len(samples) / rate
        return samples, rate, duration


def video_stream_duration(path: Path) -> float:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return float(s.duration * s.time_base)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


# ---------------------------------------------------------------------------
# images


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tif", ".tiff"])
def test_image_round_trip_lossless(tmp_path, ext):
    rgb = smooth_rgb()
    path = tmp_path / f"img{ext}"
    write_image(path, rgb)
    back = read_image(path)
    assert back.dtype == np.uint8 and back.shape == rgb.shape and back.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(back, rgb)


@pytest.mark.parametrize("ext", [".jpg", ".jpeg", ".webp", ".JPG"])
def test_image_round_trip_lossy(tmp_path, ext):
    rgb = smooth_rgb()
    path = tmp_path / f"img{ext}"
    write_image(path, rgb)
    back = read_image(path)
    assert back.shape == rgb.shape and back.dtype == np.uint8
    assert psnr(back, rgb) > 30


def test_rgba_is_composited_over_white(tmp_path):
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., 0] = 255  # red
    rgba[:, :10, 3] = 255  # opaque
    rgba[:, 10:20, 3] = 128  # half transparent
    rgba[:, 20:, 3] = 0  # fully transparent
    Image.fromarray(rgba).save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    np.testing.assert_array_equal(out[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(out[0, 15], [255, 127, 127])
    np.testing.assert_array_equal(out[0, 30], [255, 255, 255])


def test_la_palette_and_gray_modes(tmp_path):
    gray = np.tile(np.arange(40, dtype=np.uint8)[None] * 6, (40, 1))
    Image.fromarray(gray).save(tmp_path / "l.png")
    out = read_image(tmp_path / "l.png")
    assert out.shape == (40, 40, 3)
    np.testing.assert_array_equal(out[..., 0], gray)
    np.testing.assert_array_equal(out[..., 1], gray)

    la = np.stack([np.zeros_like(gray), np.where(np.arange(40) < 20, 255, 0).astype(np.uint8)[None].repeat(40, 0)], -1)
    Image.frombytes("LA", (40, 40), np.ascontiguousarray(la).tobytes()).save(tmp_path / "la.png")
    out = read_image(tmp_path / "la.png")
    np.testing.assert_array_equal(out[0, 0], [0, 0, 0])
    np.testing.assert_array_equal(out[0, 39], [255, 255, 255])

    pal = Image.fromarray(smooth_rgb(40, 40)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.save(tmp_path / "p.png")
    out = read_image(tmp_path / "p.png")
    np.testing.assert_array_equal(out, np.asarray(pal.convert("RGB")))

    pal.info["transparency"] = 0  # palette index 0 transparent
    pal.save(tmp_path / "pt.png", transparency=0)
    out = read_image(tmp_path / "pt.png")
    mask = np.asarray(pal) == 0
    assert mask.any()
    assert (out[mask] == 255).all()


def test_16bit_gray_png_is_scaled(tmp_path):
    v = np.array([0, 128, 129, 257 * 100, 32768, 65280, 65535], dtype=np.uint16)
    img = np.tile(v[None], (40, 6))  # 40 x 42
    Image.frombytes("I;16", (img.shape[1], img.shape[0]), img.astype("<u2").tobytes()).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode == "I;16"
    out = read_image(tmp_path / "g16.png")
    assert out.shape == (40, 42, 3)
    np.testing.assert_array_equal(out[0, :7, 0], [0, 0, 1, 100, 128, 254, 255])
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_16bit_rgb_png_is_scaled_with_rounding(tmp_path):
    v = np.array([0, 300, 257 * 77, 65280, 65535], dtype=np.uint16)
    rgb = np.stack([v, v[::-1], np.full_like(v, 32768)], -1)  # 1 x 5 x 3
    rgb = np.tile(rgb, (32, 8, 1))  # 32 x 40 x 3
    png16(tmp_path / "c16.png", rgb, color_type=2)
    out = read_image(tmp_path / "c16.png")
    assert out.shape == (32, 40, 3)
    # Proper scaling is round(v / 257); Pillow alone truncates (v >> 8) and gives 255 for 65280.
    np.testing.assert_array_equal(out[0, :5, 0], [0, 1, 77, 254, 255])
    np.testing.assert_array_equal(out[0, :5, 1], [255, 254, 77, 1, 0])
    np.testing.assert_array_equal(out[0, :5, 2], [128] * 5)

    alpha = np.zeros_like(rgb[..., :1])  # fully transparent -> white
    png16(tmp_path / "c16a.png", np.concatenate([rgb, alpha], -1), color_type=6)
    np.testing.assert_array_equal(read_image(tmp_path / "c16a.png"), 255)


def test_exif_orientation_6_is_applied(tmp_path):
    rgb = smooth_rgb(40, 64)  # H=40, W=64
    rgb[:8, :8] = [255, 0, 0]  # red marker top-left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(rgb).save(tmp_path / "o6.jpg", exif=exif, quality=95)
    out = read_image(tmp_path / "o6.jpg")
    assert out.shape == (64, 40, 3)
    # After a 90 degree clockwise turn the stored top-left corner is at the top-right.
    assert out[:6, -6:, 0].mean() > 200 and out[:6, -6:, 1].mean() < 60


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillow_exif_transpose(tmp_path, orientation):
    rgb = smooth_rgb(40, 56, seed=3)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.png"
    Image.fromarray(rgb).save(path, exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    np.testing.assert_array_equal(read_image(path), expected)


def test_read_image_errors(tmp_path):
    with pytest.raises(InputError) as e:
        read_image(tmp_path / "missing.jpg", what="portrait")
    assert one_line(e).startswith("cannot read portrait") and "not found" in str(e.value)

    with pytest.raises(InputError) as e:
        read_image(tmp_path)
    assert "directory" in one_line(e)

    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"this is not an image at all\n" * 10)
    with pytest.raises(InputError) as e:
        read_image(garbage)
    assert "not an image file" in one_line(e)

    rgb = smooth_rgb(200, 200)
    write_image(tmp_path / "big.png", rgb)
    data = (tmp_path / "big.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as e:
        read_image(tmp_path / "cut.png")
    assert "truncated" in one_line(e)
    write_image(tmp_path / "big.jpg", rgb)
    data = (tmp_path / "big.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError):
        read_image(tmp_path / "cut.jpg")

    with pytest.raises(InputError) as e:
        read_image(tmp_path / "big.png", max_side=100)
    assert "200x200" in one_line(e) and "100" in str(e.value)

    write_image(tmp_path / "tiny.png", smooth_rgb(16, 48))
    with pytest.raises(InputError) as e:
        read_image(tmp_path / "tiny.png")
    assert "too small" in one_line(e) and "32" in str(e.value)


def test_write_image_rejects_bad_input(tmp_path):
    with pytest.raises(OutputError) as e:
        write_image(tmp_path / "x.gif", smooth_rgb())
    assert ".gif" in one_line(e)
    with pytest.raises(ValueError):
        write_image(tmp_path / "x.png", smooth_rgb().astype(np.float32))
    with pytest.raises(ValueError):
        write_image(tmp_path / "x.png", smooth_rgb()[..., 0])
    with pytest.raises(OutputError):
        write_image(tmp_path / "no_such_dir" / "x.png", smooth_rgb())
    assert leftovers(tmp_path) == []


def test_write_image_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "out.png"

    def broken_save(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        write_image(target, smooth_rgb())
    assert leftovers(tmp_path) == []


def test_is_image_path(tmp_path):
    write_image(tmp_path / "a.png", smooth_rgb())
    write_image(tmp_path / "a.jpg", smooth_rgb())
    assert is_image_path(tmp_path / "a.png")
    assert is_image_path(tmp_path / "a.jpg")

    frames = [Image.fromarray(smooth_rgb(seed=i)) for i in range(3)]
    frames[0].save(tmp_path / "still.gif")
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=40)
    assert is_image_path(tmp_path / "still.gif")
    assert not is_image_path(tmp_path / "anim.gif")

    make_video(tmp_path / "v.mp4", n_frames=3)
    assert not is_image_path(tmp_path / "v.mp4")
    (tmp_path / "t.txt").write_text("hello")
    assert not is_image_path(tmp_path / "t.txt")
    assert not is_image_path(tmp_path / "missing.png")
    assert not is_image_path(tmp_path)


# ---------------------------------------------------------------------------
# atomic output


def test_atomic_output_success_and_failure(tmp_path):
    target = tmp_path / "result.mp4"
    with atomic_output(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".result.mp4.") and tmp.name.endswith(".tmp.mp4")
        tmp.write_bytes(b"data")
        assert not target.exists()
    assert target.read_bytes() == b"data"
    assert leftovers(tmp_path) == ["result.mp4"]

    for exc in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(exc)), atomic_output(target) as tmp:
            tmp.write_bytes(b"new, incomplete")
            raise exc
        assert target.read_bytes() == b"data"  # the old file is untouched
        assert leftovers(tmp_path) == ["result.mp4"]

    fresh = tmp_path / "fresh.png"
    with pytest.raises(RuntimeError), atomic_output(fresh, suffix=".png") as tmp:
        assert tmp.suffix == ".png"
        raise RuntimeError
    assert not fresh.exists() and leftovers(tmp_path) == ["result.mp4"]


def test_check_output_path(tmp_path):
    inp = tmp_path / "in.mp4"
    inp.write_bytes(b"x")
    check_output_path(tmp_path / "out.mp4", [inp, None])

    with pytest.raises(OutputError) as e:
        check_output_path(tmp_path / "nodir" / "out.mp4", [inp])
    assert "does not exist" in one_line(e)
    with pytest.raises(OutputError) as e:
        check_output_path(tmp_path, [inp])
    assert "directory" in one_line(e)
    (tmp_path / "sub").mkdir()
    with pytest.raises(OutputError) as e:
        check_output_path(tmp_path / "sub" / ".." / "in.mp4", [inp])
    assert "output path equals input" in one_line(e)
    os.symlink(inp, tmp_path / "link.mp4")
    with pytest.raises(OutputError):
        check_output_path(tmp_path / "link.mp4", [inp])
    with pytest.raises(OutputError):  # not created yet, same resolved path
        check_output_path(tmp_path / "new.mp4", [tmp_path / "sub" / ".." / "new.mp4"])


# ---------------------------------------------------------------------------
# video


@pytest.mark.parametrize("fps", [25, 30000 / 1001, 22.13])
def test_video_writer_round_trip(tmp_path, fps):
    size = (64, 48)
    frames = [smooth_rgb(48, 64, seed=i) for i in range(24)]
    out = tmp_path / "out.mp4"
    with VideoWriter(out, fps=fps, size=size) as vw:
        for f in frames:
            vw.write(f)
        assert vw.frames_written == 24
    assert leftovers(tmp_path) == ["out.mp4"]

    info = probe_video(out)
    assert (info.width, info.height) == size
    assert info.fps == pytest.approx(fps, rel=1e-6)
    assert info.n_frames == 24 and not info.has_audio and info.codec == "h264"
    assert info.duration == pytest.approx(24 / fps, abs=1e-3)

    back = list(iter_frames(out))
    assert len(back) == 24
    for a, b in zip(frames, back, strict=True):
        assert b.shape == (48, 64, 3) and b.dtype == np.uint8 and b.flags["C_CONTIGUOUS"]
        assert psnr(a, b) > 30


def test_video_writer_keeps_saturated_colours(tmp_path):
    """BT.709 conversion and tags round-trip: pure colours come back pure."""
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0]], np.uint8)
    frame = np.repeat(colours, 16, axis=0)[:, None].repeat(32, axis=1)  # 80 x 32 stripes
    with VideoWriter(tmp_path / "c.mp4", fps=10, size=(32, 80)) as vw:
        for _ in range(3):
            vw.write(frame)
    back = next(iter_frames(tmp_path / "c.mp4"))
    centres = back[8::16, 16].astype(int)
    assert np.abs(centres - colours.astype(int)).max() <= 6


def test_video_writer_muxes_trimmed_audio(tmp_path):
    src = tmp_path / "src.mp4"
    make_video(src, n_frames=75, fps=25, audio_seconds=3.0)  # 3 s of video and sine
    assert has_audio(src) and probe_video(src).has_audio

    frames = list(iter_frames(src, max_frames=30))
    assert len(frames) == 30
    out = tmp_path / "out.mp4"
    with VideoWriter(out, fps=25, size=(64, 48), audio_source=src) as vw:
        for f in frames:
            vw.write(f)
    info = probe_video(out)
    assert info.has_audio and info.n_frames == 30
    samples, rate, audio_duration = decode_audio(out)
    assert rate == 44100
    assert audio_duration == pytest.approx(video_stream_duration(out), abs=0.1)
    assert audio_duration == pytest.approx(1.2, abs=0.05)
    # it is still the 440 Hz sine
    spectrum = np.abs(np.fft.rfft(samples[2048 : 2048 + 32768]))
    assert np.fft.rfftfreq(32768, 1 / rate)[spectrum.argmax()] == pytest.approx(440, abs=3)


@pytest.mark.parametrize(
    "container_ext, vcodec, acodec, rate",
    [
        (".mpg", "mpeg1video", "mp2", 44100),
        (".mov", "libx264", "pcm_s16le", 22050),
        (".mkv", "libx264", "libmp3lame", 44100),
    ],
)
def test_video_writer_transcodes_other_audio_codecs(tmp_path, container_ext, vcodec, acodec, rate):
    src = tmp_path / f"src{container_ext}"
    make_video(src, n_frames=50, fps=25, audio_seconds=2.0, vcodec=vcodec, acodec=acodec, audio_rate=rate)
    frames = list(iter_frames(src))
    assert len(frames) == 50
    out = tmp_path / "out.mp4"
    with VideoWriter(out, fps=25, size=(64, 48), audio_source=src) as vw:
        for f in frames[:40]:
            vw.write(f)
    samples, out_rate, audio_duration = decode_audio(out)
    assert out_rate == rate
    assert audio_duration == pytest.approx(video_stream_duration(out), abs=0.1)
    assert audio_duration == pytest.approx(1.6, abs=0.05)


@pytest.mark.parametrize("ext", [".mov", ".mkv", ".M4V"])
def test_video_writer_other_containers(tmp_path, ext):
    src = tmp_path / "src.mp4"
    make_video(src, n_frames=25, fps=25, audio_seconds=1.0)
    out = tmp_path / f"out{ext}"
    with VideoWriter(out, fps=25, size=(64, 48), audio_source=src) as vw:
        for f in iter_frames(src):
            vw.write(f)
    assert len(list(iter_frames(out))) == 25
    _, _, audio_duration = decode_audio(out)
    assert audio_duration == pytest.approx(1.0, abs=0.05)


def test_short_audio_is_padded_to_video_length(tmp_path):
    src = tmp_path / "src.mp4"
    make_video(src, n_frames=25, fps=25, audio_seconds=0.5)
    out = tmp_path / "out.mp4"
    with VideoWriter(out, fps=25, size=(64, 48), audio_source=src) as vw:
        for i in range(50):  # 2 s of video
            vw.write(smooth_rgb(48, 64, seed=i))
    _, _, audio_duration = decode_audio(out)
    assert audio_duration == pytest.approx(2.0, abs=0.05)


def test_audio_source_without_audio_gives_silent_video(tmp_path):
    src = tmp_path / "src.mp4"
    make_video(src, n_frames=5)
    assert not has_audio(src)
    with VideoWriter(tmp_path / "out.mp4", fps=25, size=(64, 48), audio_source=src) as vw:
        vw.write(smooth_rgb())
    assert not probe_video(tmp_path / "out.mp4").has_audio


def test_video_writer_exception_leaves_nothing(tmp_path):
    src = tmp_path / "src.mp4"
    make_video(src, n_frames=10, audio_seconds=1.0)
    out = tmp_path / "out.mp4"
    for exc in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(exc)), VideoWriter(out, fps=25, size=(64, 48), audio_source=src) as vw:
            vw.write(smooth_rgb())
            raise exc
        assert leftovers(tmp_path) == ["src.mp4"]

    out.write_bytes(b"previous result")
    with pytest.raises(RuntimeError), VideoWriter(out, fps=25, size=(64, 48)) as vw:
        vw.write(smooth_rgb())
        raise RuntimeError
    assert out.read_bytes() == b"previous result"
    assert leftovers(tmp_path) == ["out.mp4", "src.mp4"]


def test_video_writer_argument_checks(tmp_path):
    for size in [(63, 48), (64, 47), (0, 48)]:
        with pytest.raises(ValueError):
            VideoWriter(tmp_path / "o.mp4", fps=25, size=size)
    with pytest.raises(ValueError):
        VideoWriter(tmp_path / "o.mp4", fps=0, size=(64, 48))
    with pytest.raises(OutputError):
        VideoWriter(tmp_path / "o.avi", fps=25, size=(64, 48))
    with pytest.raises(OutputError):
        VideoWriter(tmp_path / "no_such_dir" / "o.mp4", fps=25, size=(64, 48))
    with pytest.raises(InputError):
        VideoWriter(tmp_path / "o.mp4", fps=25, size=(64, 48), audio_source=tmp_path / "missing.mp4")
    assert leftovers(tmp_path) == []

    with VideoWriter(tmp_path / "o.mp4", fps=25, size=(64, 48)) as vw:
        for bad in (smooth_rgb(48, 66), smooth_rgb().astype(np.float32), smooth_rgb()[..., :2]):
            with pytest.raises(ValueError):
                vw.write(bad)
        vw.write(smooth_rgb())
    assert probe_video(tmp_path / "o.mp4").n_frames == 1

    vw = VideoWriter(tmp_path / "empty.mp4", fps=25, size=(64, 48))
    with pytest.raises(OutputError):
        vw.close()
    assert not (tmp_path / "empty.mp4").exists()


def test_probe_and_iter_reject_non_videos(tmp_path):
    txt = tmp_path / "x.txt"
    txt.write_text("not a video\n" * 100)
    with pytest.raises(InputError) as e:
        probe_video(txt)
    assert one_line(e) == f"{str(txt)!r} is not a video PyAV can decode"
    with pytest.raises(InputError):
        next(iter_frames(txt))
    with pytest.raises(InputError) as e:
        probe_video(tmp_path / "missing.mp4", what="driving video")
    assert one_line(e).startswith("cannot read driving video") and "not found" in str(e.value)
    with pytest.raises(InputError):
        has_audio(tmp_path / "missing.mp4")


def test_iter_frames_max_frames_and_webm(tmp_path):
    src = tmp_path / "v.webm"
    frames = make_video(src, n_frames=12, fps=24, vcodec="libvpx-vp9")
    info = probe_video(src)
    assert (info.width, info.height, info.codec) == (64, 48, "vp9") and info.fps == pytest.approx(24)
    back = list(iter_frames(src))
    assert len(back) == 12 and psnr(back[5], frames[5]) > 25
    assert len(list(iter_frames(src, max_frames=5))) == 5
    assert list(iter_frames(src, max_frames=0)) == []


def test_iter_frames_stops_cleanly_on_truncated_file(tmp_path):
    full = tmp_path / "full.mp4"
    with VideoWriter(full, fps=25, size=(128, 96)) as vw:  # moov is moved to the front
        rng = np.random.default_rng(0)
        for _ in range(40):
            vw.write(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8))  # big frames
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    back = list(iter_frames(cut))
    assert 1 <= len(back) < 40
    assert all(f.shape == (96, 128, 3) for f in back)

    # Only the header left: nothing decodes -> InputError.
    header = tmp_path / "header.mp4"
    header.write_bytes(data[:2000])
    with pytest.raises(InputError):
        list(iter_frames(header))


def test_display_rotation_is_applied(tmp_path):
    src = tmp_path / "rot.mp4"
    frames = make_video(src, n_frames=3, size=(64, 48), rotation=-90)  # stored landscape, shown portrait
    info = probe_video(src)
    assert (info.width, info.height, info.rotation) == (48, 64, 270)
    back = list(iter_frames(src))
    assert back[0].shape == (64, 48, 3)
    assert psnr(back[0], np.rot90(frames[0], k=-1)) > 30  # -90 degrees counter-clockwise = clockwise


@pytest.mark.parametrize("size, matrix", [((1280, 720), "ITU709"), ((320, 240), "ITU601")])
def test_untagged_video_uses_players_matrix_guess(tmp_path, size, matrix):
    """Untagged HD is decoded as BT.709, untagged SD as BT.601 (what players assume)."""
    w, h = size
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    frame = np.repeat(colours, h // 3, axis=0)[:, None].repeat(w, axis=1)
    path = tmp_path / "untagged.mp4"
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vf = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p", dst_colorspace=matrix)
        for p in list(vs.encode(vf)) + list(vs.encode(None)):
            c.mux(p)
    with av.open(str(path)) as c:
        assert next(c.decode(video=0)).colorspace == 2  # unspecified
    back = next(iter_frames(path))
    centres = back[h // 6 :: h // 3, w // 2][:3].astype(int)
    assert np.abs(centres - colours.astype(int)).max() <= 6
