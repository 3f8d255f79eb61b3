"""Helpers shared by the tests: the in-process CLI, synthetic photos and clips, tiny trained
styles, and a torch blocker for the torch-free checks. Import as ``from tests.helpers import ...``
(pytest puts the repository root on ``sys.path``)."""

from __future__ import annotations

import textwrap
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from rtstyle.cli import main

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "rtstyle" / "assets"
STYLE = ASSETS / "starry_night_van_gogh.jpg"

#: Flags that make `rtstyle train` take a fraction of a second per step on a CPU.
TINY = ["--net", "tiny", "--image-size", "32", "--batch-size", "2", "--workers", "0",
        "--device", "cpu", "--preview-every", "0", "--quiet"]

#: Python source that makes torch (and torchvision, safetensors) unimportable; prepend it to a
#: script run with ``python -c`` to check that code works without the train extra.
BLOCK_TORCH = textwrap.dedent("""
    import importlib.abc, sys

    class BlockTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "torch" or name.startswith(("torch.", "torchvision", "safetensors")):
                raise ImportError("torch is blocked for this test")

    sys.meta_path.insert(0, BlockTorch())
""")



def run_without_torch(body: str, cwd: Path, models: Path) -> str:
    """Run ``body`` (Python source) in a fresh interpreter with torch unimportable and
    ``$RTSTYLE_MODELS`` set to ``models``; checks that it succeeded and never imported torch,
    and returns its standard output."""
    import os
    import subprocess
    import sys

    script = BLOCK_TORCH + textwrap.dedent(body) + textwrap.dedent("""
        import sys as _sys
        assert "torch" not in _sys.modules, "the runtime imported torch"
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RTSTYLE_MODELS": str(models)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout

# --- the CLI in-process ----------------------------------------------------------------------

def cli(argv, capsys):
    """Run ``rtstyle argv`` in-process; argparse errors exit via SystemExit."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(err: str, *needles: str) -> None:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("rtstyle"), lines[0]
    assert "error" in lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


# --- photos and tiny styles -----------------------------------------------------------------

def make_photos(folder: Path, n_synthetic: int = 6) -> Path:
    """Crops of the bundled photo (real content) plus smooth synthetic scenes, in sub-folders."""
    folder.mkdir(parents=True, exist_ok=True)
    photo = cv2.imread(str(ASSETS / "tubingen.jpg"))
    (folder / "real").mkdir(exist_ok=True)
    h, w = photo.shape[:2]
    for i, (y, x) in enumerate([(0, 0), (h // 3, w // 3), (h // 2, w // 2)]):
        cv2.imwrite(str(folder / "real" / f"tubingen_{i}.jpg"), photo[y:y + h // 2, x:x + w // 2])
    rng = np.random.default_rng(1)
    (folder / "synthetic" / "deeper").mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:72, 0:96].astype(np.float32)
    for i in range(n_synthetic):
        a, b, c = rng.uniform(0.02, 0.2, 3)
        img = np.stack([127 + 120 * np.sin(a * xx + i), 127 + 120 * np.cos(b * yy),
                        127 + 120 * np.sin(c * (xx + yy))], axis=-1)
        cv2.circle(img, (int(rng.integers(10, 86)), int(rng.integers(10, 62))), 12,
                   tuple(float(v) for v in rng.integers(0, 255, 3)), -1)
        sub = folder / "synthetic" / ("deeper" if i % 2 else "")
        cv2.imwrite(str(sub / f"scene_{i}.png"), np.clip(img, 0, 255).astype(np.uint8))
    return folder


def build_styles(base: Path) -> dict[str, Path]:
    """Model folders 'starry' (Van Gogh, seed 1, with credit) and 'bright' (a synthetic colourful
    image, seed 2), each trained 2 steps and exported; reused when ``base`` already holds them."""

    models = {"starry": base / "starry" / "model", "bright": base / "bright" / "model"}
    if all((m / "model.onnx").is_file() for m in models.values()):
        return models
    base.mkdir(parents=True, exist_ok=True)
    photos = base / "photos"
    photos.mkdir(exist_ok=True)
    photo = cv2.imread(str(ASSETS / "tubingen.jpg"))
    for i in range(3):
        cv2.imwrite(str(photos / f"p{i}.png"), photo[i * 40:i * 40 + 96, i * 50:i * 50 + 128])
    yy, xx = np.mgrid[0:96, 0:96].astype(np.float32)
    bright = np.stack([127 + 127 * np.sin(xx / 3), 127 + 127 * np.cos(yy / 5),
                       127 + 127 * np.sin((xx + yy) / 7)], axis=-1)
    cv2.imwrite(str(base / "bright.png"), np.clip(bright, 0, 255).astype(np.uint8))
    runs = {"starry": [ASSETS / "starry_night_van_gogh.jpg", "1", "--style-credit",
                       "The Starry Night, Vincent van Gogh (1889)", "--style-license",
                       "public domain"],
            "bright": [base / "bright.png", "2"]}
    for name, (style, seed, *extra) in runs.items():
        argv = ["train", "--style", style, "--data", photos, "--out", base / name, "--steps", "2",
                "--seed", seed, "--style-name", name, *extra, *TINY, "--force",
                "--amp", "off"]  # the same tiny styles on every CPU
        assert main([str(a) for a in argv]) == 0
        assert main(["export", "--model", str(models[name])]) == 0
    return models


# --- synthetic clips ------------------------------------------------------------------------

VFR_MS = (0, 33, 50, 100, 133, 200, 210, 250, 300, 333)
SQUARE = (20, 220, 250)  # BGR of the moving square


def frame_image(i: int, w: int, h: int) -> np.ndarray:
    """Frame ``i``: a blue/green gradient with an orange square moving right (BGR uint8)."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.empty((h, w, 3), np.uint8)
    img[..., 0] = x * 255 // max(w - 1, 1)
    img[..., 1] = y * 255 // max(h - 1, 1)
    img[..., 2] = 60
    s = max(4, min(w, h) // 4)
    x0, y0 = (i * 3) % (w - s), h // 2 - s // 2
    img[y0:y0 + s, x0:x0 + s] = SQUARE
    return img


def vfr_ms(i: int) -> int:
    return VFR_MS[i % len(VFR_MS)] + 400 * (i // len(VFR_MS))


def make_clip(path: Path, frames: int = 12, size: tuple[int, int] = (64, 48), fps: int = 25,
              audio: bool = True, vfr: bool = False, pix_fmt: str = "yuv420p",
              codec: str = "libx264", rate: int = 44100, layout: str = "mono",
              preset: str | None = None) -> Path:
    """Encode ``frames`` of :func:`frame_image` (and a 440 Hz AAC sine of the same length)."""
    w, h = size
    with av.open(str(path), "w") as out:
        v = out.add_stream(codec, rate=fps)
        v.width, v.height, v.pix_fmt = w, h, pix_fmt
        if preset:
            v.options = {"preset": preset}
        tb = Fraction(1, 1000) if vfr else Fraction(1, fps)
        if vfr:  # the encoder must count in ms too, or close frames collide
            v.time_base = v.codec_context.time_base = tb
        a = out.add_stream("aac", rate=rate, layout=layout) if audio else None
        for i in range(frames):
            vf = av.VideoFrame.from_ndarray(frame_image(i, w, h), format="bgr24")
            vf.pts, vf.time_base = (vfr_ms(i) if vfr else i), tb
            for p in v.encode(vf):
                out.mux(p)
        for p in v.encode():
            out.mux(p)
        if a is not None:
            seconds = (vfr_ms(frames - 1) + 33) / 1000 if vfr else frames / fps
            n = int(seconds * rate)
            wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / rate)).astype(np.float32)
            channels = 1 if layout == "mono" else 2
            samples = np.tile(wave, (channels, 1))
            for k in range(0, n, 1024):
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, k:k + 1024]),
                                                format="fltp", layout=layout)
                af.sample_rate, af.pts, af.time_base = rate, k, Fraction(1, rate)
                for p in a.encode(af):
                    out.mux(p)
            for p in a.encode():
                out.mux(p)
    return path


def make_audio_only(path: Path) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        a = out.add_stream("aac", rate=44100, layout="mono")
        for k in range(0, 44100 // 2, 1024):
            af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                            layout="mono")
            af.sample_rate, af.pts, af.time_base = 44100, k, Fraction(1, 44100)
            for p in a.encode(af):
                out.mux(p)
        for p in a.encode():
            out.mux(p)
    return path


def decode(path: Path) -> tuple[list[np.ndarray], list[float]]:
    """Every video frame of ``path`` as BGR, and its time in seconds."""
    with av.open(str(path)) as c:
        frames = [(f.to_ndarray(format="bgr24"), float(f.time)) for f in c.decode(video=0)]
    return [f for f, _ in frames], [t for _, t in frames]


def audio_packets(path: Path) -> tuple[list[tuple[float, bytes]], dict | None]:
    """(time, payload) of each audio packet, and the audio stream's codec parameters."""
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return [], None
        a = c.streams.audio[0]
        params = {"codec": a.codec_context.name, "rate": a.sample_rate,
                  "channels": a.codec_context.channels}
        packets = [(float(p.pts * p.time_base), bytes(p)) for p in c.demux(a)
                   if p.dts is not None]
    return packets, params


def make_wct_root(base: Path, levels=(1, 2, 3), export=(1, 2)) -> Path:
    """A models root with untrained (seeded) WCT decoders in ``wct/level{L}`` and the real-time
    graphs of the ``export`` levels: use it as $RTSTYLE_MODELS, or ``--decoders ROOT/wct``."""
    import torch

    from rtstyle import metadata
    from rtstyle.train import model_folder
    from rtstyle.train.wct import export as wct_export
    from rtstyle.train.wct import trainer as wct_trainer
    from rtstyle.train.wct.models import WCTDecoder, size_multiple

    wct = base / "wct"
    wct.mkdir(parents=True, exist_ok=True)
    for level in levels:
        torch.manual_seed(level)
        meta = {"name": f"wct-relu{level}_1", "net": wct_trainer.describe(level),
                "recipe": {"preset": "test", "config": {}}, "training": {},
                "evaluation": {"psnr_db": 1.0, "per_image": {}, "images": 0}}
        io = {**metadata.IO_CONTRACT, "size_multiple": size_multiple(level)}
        model_folder.save(wct / f"level{level}", WCTDecoder(level), meta, kind=wct_trainer.KIND,
                          dtype=torch.float16, io=io)
        if level in export:
            wct_export.export_wct(wct / f"level{level}", sizes=((48, 64),))
    return base


def texture(h: int, w: int, seed: int, sigma: float = 2.0) -> np.ndarray:
    """Smooth random BGR texture (blurred noise, contrast restored): something flow can track."""
    noise = np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.float32)
    a = cv2.GaussianBlur(noise, (0, 0), sigma)
    return np.clip((a - a.mean()) / a.std() * 50 + 128, 0, 255).astype(np.uint8)
