"""What machine this is, for benchmark and training reports (torch-free)."""

from __future__ import annotations

import os
import platform
import subprocess


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux) and core count."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def gpu_names() -> list[str]:
    """NVIDIA GPUs as nvidia-smi names them; empty without a driver."""
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [g.strip() for g in done.stdout.splitlines() if g.strip()] if done.returncode == 0 else []


def machine() -> str:
    """``"<GPU>; <CPU>"``, or just the CPU."""
    gpus = gpu_names()
    return f"{gpus[0]}; {cpu_name()}" if gpus else cpu_name()
