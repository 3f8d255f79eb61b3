"""Training throughput of the transformer nets: images per second of a full training step.

A step is what ``rtstyle train`` does per batch: the transformer forward, the VGG19 loss network
on output and input, backward, Adam. Data loading is left out (batches are preloaded crops of
the bundled photo) so the numbers compare nets, devices, ``--amp`` and ``--channels-last``;
``rtstyle train`` logs end-to-end images/s in its losses.csv.

    python bench/train_throughput.py                      # full and lite, 256 px, batch 4
    python bench/train_throughput.py --device cuda --amp off,bf16,fp16 --channels-last both

Prints a Markdown table and writes the results as JSON (``--out``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_report  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nets", default="full,lite", help="comma-separated: full, lite, tiny")
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--steps", type=int, default=10, help="timed steps per configuration")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="auto")
    p.add_argument("--amp", default="off", help="comma-separated: off, bf16, fp16")
    p.add_argument("--channels-last", choices=("off", "on", "both"), default="off")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    p.add_argument("--out", type=Path, help="JSON file for the results")
    return p.parse_args(argv)


def measure(net_name: str, image_size: int, batch: int, steps: int, warmup: int, device,
            amp: str, channels_last: bool) -> dict:
    import torch

    from rtstyle import assets, frames, images
    from rtstyle.train import trainer
    from rtstyle.train.loss_networks import load_loss_network
    from rtstyle.train.losses import PerceptualLoss
    from rtstyle.train.transformer_net import build, count_parameters, net_config

    cfg = trainer.TrainConfig(net=net_name, image_size=image_size, batch_size=batch)
    torch.manual_seed(0)
    net = build(net_config(net_name)).to(device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    loss = PerceptualLoss(cfg.loss, load_loss_network(cfg.loss.loss_net, device))
    style = images.read_image(assets.path(assets.DEMO_STYLE), max_side=image_size)
    loss.set_styles([torch.from_numpy(frames.to_model_input(style)).to(device)])
    photo = images.resize_to(images.read_image(assets.path(assets.DEMO_CONTENT)),
                             (image_size, image_size))
    x = torch.from_numpy(frames.to_model_input(photo)).repeat(batch, 1, 1, 1).to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == "fp16")
    dtype = trainer.AMP_DTYPES.get(amp)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    times = []
    for i in range(warmup + steps):
        sync()
        start = time.perf_counter()
        terms = trainer.forward_losses(net, loss, x, dtype)
        trainer.optimise(opt, scaler, terms.total)
        sync()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    med = statistics.median(times)
    return {"net": net_name, "parameters": count_parameters(net),
            "gmacs_per_image": round(net_config(net_name).macs_per_pixel() * image_size ** 2 / 1e9, 3),
            "image_size": image_size, "batch_size": batch, "amp": amp,
            "channels_last": channels_last, "steps": steps,
            "seconds_per_step_median": round(med, 4),
            "images_per_s": round(batch / med, 2),
            "images_per_s_mean": round(batch * len(times) / sum(times), 2),
            "final_loss_finite": bool(torch.isfinite(terms.total).item())}


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    from rtstyle.sysinfo import cpu_name
    from rtstyle.train.device import resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cl = {"off": [False], "on": [True], "both": [False, True]}[args.channels_last]
    machine = (torch.cuda.get_device_name(device) if device.type == "cuda"
               else f"{cpu_name()}, {torch.get_num_threads()} torch threads")
    results = []
    print(f"| net | amp | channels-last | s/step | images/s |  ({machine}, {args.image_size} px, "
          f"batch {args.batch_size})")
    print("|---|---|---|---|---|")
    for net in args.nets.split(","):
        for amp in args.amp.split(","):
            for channels_last in cl:
                r = measure(net.strip(), args.image_size, args.batch_size, args.steps,
                            args.warmup, device, amp.strip(), channels_last)
                results.append(r)
                print(f"| {r['net']} | {amp} | {'on' if channels_last else 'off'} | "
                      f"{r['seconds_per_step_median']:.3f} | {r['images_per_s']:.1f} |", flush=True)
    write_report(args.out, "train_throughput", results, machine=machine, device=str(device),
                 torch=str(torch.__version__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
