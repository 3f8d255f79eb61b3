"""Shared by the benchmark scripts: randomly initialised exported nets and the JSON report."""

from __future__ import annotations

import datetime
import json
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rtstyle.sysinfo import machine  # noqa: E402  (re-exported for the scripts)


def export_nets(names, folder: Path, fp16: bool = False) -> dict[str, Path]:
    """ONNX files of randomly initialised nets (speed does not depend on the weights)."""
    import numpy as np
    import torch

    from rtstyle.train import export, model_folder
    from rtstyle.train.transformer_net import NETS, TransformerNet, describe

    out = {}
    for name in names:
        torch.manual_seed(0)
        net = TransformerNet(NETS[name]).eval()
        meta = {"name": f"random-{name}", "net": {"name": name, **describe(NETS[name])},
                "style": {"name": "random"}, "recipe": {}, "training": {}}
        model_dir = model_folder.save(folder / name, net, meta, np.zeros((8, 8, 3), np.uint8))
        out[name] = export.export(model_dir).path
        if fp16:
            out[f"{name} fp16"] = export.export(model_dir, fp16=True).path
    return out


def commit() -> str | None:
    """The repository's commit (``+dirty`` when tracked files differ from it); None outside a
    git checkout."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
    try:
        head = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def output(stem: Path, ext: str) -> Path:
    """``stem`` + ``ext`` (".json", ".md"): a dot inside the stem stays (``w0.95`` is not a
    suffix), a stem that already ends in .json or .md has that replaced."""
    if stem.suffix in (".json", ".md"):
        stem = stem.with_suffix("")
    return stem.with_name(stem.name + ext)


def write_report(out: Path | None, benchmark: str, rows: list[dict], **facts) -> dict:
    """The command, date, machine, commit and versions with the result rows; written to ``out``
    as JSON."""
    report = {"benchmark": benchmark, "command": " ".join(["python", *sys.argv]),
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": facts.pop("machine", None) or machine(), "commit": commit(),
              "python": platform.python_version(), **facts, "results": rows}
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {out}")
    return report
