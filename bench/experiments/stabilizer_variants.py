"""Run-time stabilisers that were tried and not shipped, measured like `--stabilize`.

For each clip, every variant stylises the same frames with one style net (PyTorch, CPU) and is
scored with rtstyle's warping error (flow on the original frames, see rtstyle/flicker.py), by
DIS flow and by Farneback flow, and the net's own style loss on evenly spaced frames, against
the per-frame net:

- ``per-frame``: the net alone.
- ``stabilize``: the shipped ``--stabilize`` (rtstyle/stabilize.py, default weight).
- ``phase-lock``: the net commutes with shifts of 4 px only (two stride-2 convs), so the input
  is shifted by minus the scene's accumulated global motion (median of the flow) modulo 4 px,
  and the output shifted back: the stride grid follows a camera pan.
- ``phase-lock+stabilize``: both.
- ``gated-lock`` (``+stabilize``): the phase lock updated only on frames whose motion is a pan
  (see :data:`PAN_SHARE`); otherwise the phase is held.
- ``feature-blend``: the net's 1/4-resolution features (after the residual blocks) blended
  with the previous blended features moved by the flow (weight as ``--stabilize``, where the
  flow is consistent), then decoded.
- ``input-freeze`` (``+stabilize``): the net's input keeps its previous pixels wherever the
  frame changed less than :data:`FREEZE_LEVEL` (no flow), so still parts of the scene reach
  the net bit-identical and its output there cannot flicker; the output is the net's own.
- ``band-blend``: the blend on the low frequencies only (Gaussian sigma 1), the current frame's
  high frequencies kept as they are.
- ``held``: not a candidate but a bound. The previous output, moved by the stabiliser's flow,
  is kept with weight :data:`HOLD_WEIGHT` wherever the flow is consistent (no gate, no detail
  gain): the texture is all but glued to the scene as that flow sees it. Its warping error is
  about as low as blending the previous frame can go; by the other flow (Farneback) it shows
  how much of what is left is the two flows disagreeing.

It also reports how resampling alone changes the style loss: one frame moved by half a pixel
with bilinear, bicubic and Lanczos interpolation. Needs the train extra (torch)::

    python bench/stabilizer_variants.py --model models/starry_night_lite \\
        --videos ../shared/data/videos --frames 30 --out bench/results/stabilizer_variants
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for common
from common import output, write_report  # noqa: E402  (also puts the repo on sys.path)

from rtstyle import flicker
from rtstyle import frames as fr
from rtstyle.stabilize import DEFAULT_WEIGHT, FLOW_PRESET, FLOW_SIDE, GATE, Stabilizer

VARIANTS = ("per-frame", "stabilize", "phase-lock", "phase-lock+stabilize", "gated-lock",
            "gated-lock+stabilize", "feature-blend", "band-blend", "input-freeze",
            "input-freeze+stabilize", "held")
#: input-freeze keeps the previous input pixel where the frame changed less than this (0..255,
#: largest channel difference after a Gaussian blur of sigma FREEZE_SIGMA).
FREEZE_LEVEL = 10.0
FREEZE_SIGMA = 1.5
#: gated-lock follows the median motion only when it is a pan: at least this fraction of the
#: consistent pixels move within 0.5 px of the median, and the median moves at least 0.25 px.
PAN_SHARE = 0.6
#: held keeps this much of the moved previous output wherever the flow is consistent.
HOLD_WEIGHT = 0.97


class Net:
    """The model folder's net split at its 1/4-resolution features (torch, CPU, eval)."""

    def __init__(self, model: str):
        import torch

        from rtstyle.train import model_folder

        self.torch = torch
        self.net, _ = model_folder.load(model, "cpu")

    def encode(self, bgr: np.ndarray):
        x = self.torch.from_numpy(fr.to_model_input(bgr))
        with self.torch.no_grad():
            return self.net.residuals(self.net.encoder(x / 127.5 - 1.0))

    def decode(self, features) -> np.ndarray:
        with self.torch.no_grad():
            y = (self.net.decoder(features) * 127.5 + 127.5).clamp(0, 255)
        return fr.from_model_output(y.numpy())

    def __call__(self, bgr: np.ndarray) -> np.ndarray:
        return self.decode(self.encode(bgr))


class Flow:
    """The stabiliser's flow: DIS (its preset) on grey frames scaled to FLOW_SIDE, full-size
    backward flow and consistency mask."""

    def __init__(self):
        self.dis = cv2.DISOpticalFlow_create(FLOW_PRESET)

    def __call__(self, prev: np.ndarray, cur: np.ndarray, h: int, w: int):
        a, b = (self._small(f) for f in (prev, cur))
        back = self.dis.calc(b, a, None)
        mask = flicker.consistency_mask(back, self.dis.calc(a, b, None)).astype(np.float32)
        sh, sw = b.shape
        back = cv2.resize(back, (w, h), interpolation=cv2.INTER_LINEAR)
        back[..., 0] *= w / sw
        back[..., 1] *= h / sh
        return back, cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)

    @staticmethod
    def _small(bgr: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        s = FLOW_SIDE / max(gray.shape)
        return cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else gray


def _warp(img: np.ndarray, back: np.ndarray) -> np.ndarray:
    h, w = back.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(img, xs + back[..., 0], ys + back[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def _alpha(moved: np.ndarray, cur: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """--stabilize's per-pixel weight of the moved previous frame."""
    spread = np.abs(moved - cur).mean(-1) / GATE
    return DEFAULT_WEIGHT * mask * np.exp(-spread * spread)


def _is_pan(vectors: np.ndarray, med: np.ndarray) -> bool:
    near = (np.abs(vectors - med) < 0.5).all(-1).mean()
    return bool(near >= PAN_SHARE and np.hypot(*med) >= 0.25)


def _shifted(net: Net, bgr: np.ndarray, ox: int, oy: int) -> np.ndarray:
    """The net's output with its input moved by (ox, oy) px (reflected border), moved back."""
    h, w = bgr.shape[:2]
    pad = cv2.copyMakeBorder(bgr, 4, 4, 4, 4, cv2.BORDER_REFLECT_101)
    out = net(np.ascontiguousarray(pad[4 - oy:4 - oy + h + 4, 4 - ox:4 - ox + w + 4]))
    return np.ascontiguousarray(out[oy:oy + h, ox:ox + w])


def run_variant(name: str, net: Net, frames: list[np.ndarray]) -> list[np.ndarray]:
    h, w = frames[0].shape[:2]
    flow, stab, out = Flow(), Stabilizer(), []
    shift = np.zeros(2)
    prev = prev_out = None
    for img in frames:
        back = mask = None
        if prev is not None:
            back, mask = flow(prev, img, h, w)
        if name == "per-frame":
            out.append(net(img))
        elif name == "stabilize":
            out.append(stab(img, net(img), DEFAULT_WEIGHT))
        elif name.startswith(("phase-lock", "gated-lock")):
            if back is not None:
                keep = mask > 0.5
                med = np.median(back[keep], 0) if keep.any() else np.zeros(2)
                if keep.mean() < 0.3:
                    shift = np.zeros(2)
                elif name.startswith("phase-lock") or _is_pan(back[keep], med):
                    shift = shift - med
            ox, oy = (int(v) for v in np.mod(-np.round(shift), 4))
            styled = _shifted(net, img, ox, oy)
            out.append(stab(img, styled, DEFAULT_WEIGHT) if name.endswith("stabilize")
                       else styled)
        elif name.startswith("input-freeze"):
            x = img.astype(np.float32)
            if prev_out is None:
                prev_out = x
            else:
                change = cv2.GaussianBlur(np.abs(x - prev_out).max(-1), (0, 0), FREEZE_SIGMA)
                moving = change >= FREEZE_LEVEL
                prev_out[moving] = x[moving]
            styled = net(np.clip(prev_out + 0.5, 0, 255).astype(np.uint8))
            out.append(stab(img, styled, DEFAULT_WEIGHT) if name.endswith("stabilize")
                       else styled)
        elif name == "feature-blend":
            feats = net.encode(img)
            if prev_out is not None:
                fh, fw = feats.shape[-2:]
                b = cv2.resize(back, (fw, fh), interpolation=cv2.INTER_LINEAR) * (fw / w)
                m = cv2.resize(mask, (fw, fh), interpolation=cv2.INTER_AREA)
                cur = feats[0].numpy().transpose(1, 2, 0)
                moved = np.stack([_warp(np.ascontiguousarray(prev_out[..., c]), b)
                                  for c in range(cur.shape[-1])], -1)
                cur = cur + (DEFAULT_WEIGHT * m)[..., None] * (moved - cur)
                feats = net.torch.from_numpy(np.ascontiguousarray(cur.transpose(2, 0, 1)))[None]
            prev_out = feats[0].numpy().transpose(1, 2, 0)
            out.append(net.decode(feats))
        elif name == "band-blend":
            styled = net(img).astype(np.float32)
            low = cv2.GaussianBlur(styled, (0, 0), 1.0)
            if prev_out is not None:
                moved = _warp(prev_out, back)
                low = low + _alpha(moved, low, mask)[..., None] * (moved - low)
            prev_out = low
            out.append(np.clip(low + styled - cv2.GaussianBlur(styled, (0, 0), 1.0) + 0.5,
                               0, 255).astype(np.uint8))
        elif name == "held":
            styled = net(img).astype(np.float32)
            if prev_out is not None:
                moved = _warp(prev_out, back)
                styled = styled + (HOLD_WEIGHT * mask)[..., None] * (moved - styled)
            prev_out = styled
            out.append(np.clip(styled + 0.5, 0, 255).astype(np.uint8))
        else:
            raise SystemExit(f"unknown variant {name!r}; choose from {', '.join(VARIANTS)}")
        prev = img
    return out


def resampling_rows(model: str, net: Net, frame: np.ndarray) -> list[dict]:
    from rtstyle.train.evaluate import style_loss_of_frames

    styled = net(frame)
    h, w = styled.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    base = style_loss_of_frames(model, [styled], device="cpu")
    rows = [{"resampling": "none", "style_loss": base, "change": 0.0}]
    for label, interp in [("bilinear", cv2.INTER_LINEAR), ("bicubic", cv2.INTER_CUBIC),
                          ("lanczos", cv2.INTER_LANCZOS4)]:
        moved = cv2.remap(styled, xs + 0.5, ys + 0.5, interp, borderMode=cv2.BORDER_REFLECT_101)
        loss = style_loss_of_frames(model, [moved], device="cpu")
        rows.append({"resampling": f"{label}, 0.5 px", "style_loss": loss,
                     "change": loss / base - 1})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a transformer model folder")
    ap.add_argument("--videos", type=Path, required=True, help="folder of clips (or one clip)")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--style-loss-frames", type=int, default=6)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--out", type=Path, help="output stem (.json and .md)")
    args = ap.parse_args()
    import torch

    from rtstyle.train.evaluate import style_loss_of_frames

    torch.set_num_threads(2)
    net = Net(args.model)
    clips = sorted(args.videos.glob("*.mp4")) if args.videos.is_dir() else [args.videos]
    rows = []
    for clip in clips:
        frames = flicker.read_frames(clip, args.frames, 0, 640)
        h, w = (s // 4 * 4 for s in frames[0].shape[:2])
        frames = [np.ascontiguousarray(f[:h, :w]) for f in frames]
        base = None
        for name in args.variants.split(","):
            styled = run_variant(name, net, frames)
            reports = {}
            for method in ("dis", "farneback"):
                done = iter(styled)
                reports[method] = flicker.measure(frames, lambda _frame: next(done), batch=1,
                                                  method=method)
            report, fb = reports["dis"], reports["farneback"]
            k = min(args.style_loss_frames, len(styled))
            picks = sorted({round(i * (len(styled) - 1) / max(1, k - 1)) for i in range(k)})
            loss = style_loss_of_frames(args.model, [styled[i] for i in picks], device="cpu")
            row = {"clip": clip.name, "size": f"{w}x{h}", "variant": name,
                   "warping_error": report.mean, "original": report.original_mean,
                   "warping_error_farneback": fb.mean, "original_farneback": fb.original_mean,
                   "style_loss": loss}
            base = base or row
            row["warp_change"] = row["warping_error"] / base["warping_error"] - 1
            row["warp_change_farneback"] = (row["warping_error_farneback"]
                                            / base["warping_error_farneback"] - 1)
            row["style_change"] = loss / base["style_loss"] - 1
            rows.append(row)
            print(f"{clip.name[:40]:40s} {name:22s} E {row['warping_error']:.2f} "
                  f"({row['warp_change']:+.0%})  Farneback {row['warping_error_farneback']:.2f} "
                  f"({row['warp_change_farneback']:+.0%})  style {loss:.4g} "
                  f"({row['style_change']:+.0%})", flush=True)
    first = flicker.read_frames(clips[0], 1, 0, 640)[0]
    resample = resampling_rows(args.model, net, first)
    for r in resample:
        print(f"{r['resampling']:20s} style {r['style_loss']:.4g} ({r['change']:+.0%})")
    if args.out:
        write_report(output(args.out, ".json"), "stabilizer_variants", rows,
                     model=args.model, frames=args.frames, resampling=resample,
                     resampling_frame=f"{clips[0].name}, frame 0")
        output(args.out, ".md").write_text(markdown(rows, resample) + "\n")
    return 0


def markdown(rows: list[dict], resample: list[dict]) -> str:
    lines = ["| clip | variant | warping error (DIS) | change | warping error (Farneback) "
             "| change | style loss | change |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        first = r["variant"] == rows[0]["variant"]

        def change(key):
            return "" if first or key not in r else format(r[key], "+.0%")
        fb = (f"{r['warping_error_farneback']:.2f} (original {r['original_farneback']:.2f})"
              if "warping_error_farneback" in r else "")
        lines.append(f"| {r['clip']} ({r['size']}) | {r['variant']} | "
                     f"{r['warping_error']:.2f} (original {r['original']:.2f}) | "
                     f"{change('warp_change')} | {fb} | {change('warp_change_farneback')} | "
                     f"{r['style_loss']:.3g} | {change('style_change')} |")
    lines += ["", "| one stylised frame moved by | style loss | change |", "|---|---|---|"]
    lines += [f"| {r['resampling']} | {r['style_loss']:.3g} | {r['change']:+.0%} |"
              for r in resample]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
