"""Runs a benchmark matrix and returns its result records (plain dicts, one per line of the
JSONL file): a ``run`` record (machine, versions, settings, peaks), one ``case`` record per case
(measured, skipped or failed, with the reason), the ``e2e-video`` and ``live`` records, and one
``target`` record per goal."""

from __future__ import annotations

import datetime
import importlib.metadata
import logging
import os
import platform
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import floors, targets, timing
from .backends import GPU_ONLY, Driver, open_driver, torch_cuda
from .matrix import Case
from .nets import NetStore, Unavailable

log = logging.getLogger(__name__)

#: Best first: the backend the end-to-end runs use, among those selected that run here.
E2E_PREFERENCE = ("ort-trt-fp16", "ort-cuda-fp16", "ort-cuda-fp32", "ort-cpu-fp32")
CPU_NOTE = "on the CPU there are no copies: upload and download are part of inference"


@dataclass(frozen=True)
class Settings:
    """How long to measure and what else to run besides the latency cases."""

    #: Untimed calls before the samples (first-call allocations, autotuning, graph capture).
    warmup: int = 2
    #: At least this many samples per case ...
    min_repeats: int = 5
    #: ... and keep sampling until this many seconds have passed.
    max_seconds: float = 3.0
    #: ort-cpu intra-op threads (0 = every CPU this process may use).
    threads: int = 0
    #: Measure the device peaks (the compute and memory floors need them).
    peaks: bool = True
    #: The end-to-end video run and the live-loop run.
    e2e: bool = True
    #: The clip the end-to-end runs use (default: the bundled sample clip).
    clip: Path | None = None
    #: (width, height) of the end-to-end runs; None: 1920x1080 video and 1280x720 live on a
    #: GPU; on a CPU the clip's own size (quick) or 640x360.
    e2e_size: tuple[int, int] | None = None
    #: Frames of the end-to-end video run and of the live run.
    e2e_frames: int = 120
    live_frames: int = 60
    quick: bool = False
    #: Net -> model folder or .onnx file to use instead of the shipped/random one.
    models: dict[str, Path] = field(default_factory=dict)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "device"


def machine_facts() -> dict[str, Any]:
    from .. import backends as rb
    from ..sysinfo import cpu_name, gpu_names

    gpus = gpu_names()
    device = gpus[0] if gpus else cpu_name()
    versions = {}
    for pkg in ("onnxruntime", "onnxruntime-gpu", "numpy", "torch", "av", "opencv-python"):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            pass
    return {"device": device, "slug": slug(device), "gpu": gpus[0] if gpus else None,
            "cpu": cpu_name(), "cpus_usable": rb.cpu_count(),
            "python": platform.python_version(), "versions": versions}


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]


class Runner:
    def __init__(self, cases: Sequence[Case], settings: Settings, workdir: str | os.PathLike,
                 on_step: Callable[[int, int, str], None] | None = None, command: str = ""):
        self.cases = list(cases)
        self.s = settings
        self.workdir = Path(workdir)
        self.on_step = on_step or (lambda done, total, label: None)
        self.command = command
        self.store = NetStore(self.workdir / "nets", settings.models)
        self.peaks: dict[str, floors.Peak | None] = {}
        self.records: list[dict] = []
        self._steps = len(self.cases) + int(settings.peaks) + 2 * int(settings.e2e)
        self._done = 0

    def _step(self, label: str) -> None:
        self.on_step(self._done, self._steps, label)
        self._done += 1

    def run(self) -> list[dict]:
        began = time.perf_counter()
        now = datetime.datetime.now().astimezone()
        run = {"kind": "run", **machine_facts(), "date": now.date().isoformat(),
               "time": now.isoformat(timespec="seconds"), "command": self.command,
               "quick": self.s.quick,
               "settings": {k: (str(v) if isinstance(v, Path) else v)
                            for k, v in asdict(self.s).items() if k != "models"},
               "models": {k: str(v) for k, v in self.s.models.items()}}
        self.records.append(run)
        if self.s.peaks:
            self._step("device peaks")
            run["peaks"] = self._measure_peaks()
        for group in self._groups():
            self._run_group(group)
        if self.s.e2e:
            self._end_to_end()
        self.records += targets.evaluate(self.records)
        run["duration_s"] = round(time.perf_counter() - began, 1)
        self.on_step(self._steps, self._steps, "done")
        return self.records

    # --- peaks -------------------------------------------------------------------------------

    def _measure_peaks(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        try:
            self.peaks["cpu"] = floors.cpu_peak()
            out["cpu"] = self.peaks["cpu"].as_dict()
        except Exception as e:  # noqa: BLE001 - a benchmark run records what failed
            out["cpu"] = {"error": _one_line(e)}
        wants_gpu = any(c.backend in GPU_ONLY or c.backend.startswith("torch") for c in self.cases)
        if wants_gpu and run_has_gpu():
            if torch_cuda():
                try:
                    self.peaks["cuda"] = floors.cuda_peak()
                    out["cuda"] = self.peaks["cuda"].as_dict()
                except Exception as e:  # noqa: BLE001
                    out["cuda"] = {"error": _one_line(e)}
            else:
                out["cuda"] = {"error": "the GPU peaks are measured with torch "
                                        "(pip install 'rtstyle[train]')"}
        return out

    # --- latency cases -----------------------------------------------------------------------

    def _groups(self) -> list[list[Case]]:
        """Cases sharing one driver: same backend and net (TensorRT: and size, for its profile)."""
        groups: dict[tuple, list[Case]] = {}
        for c in self.cases:
            key = (c.backend, c.net, c.size if c.backend == "ort-trt-fp16" else None)
            groups.setdefault(key, []).append(c)
        return list(groups.values())

    def _base(self, c: Case) -> dict[str, Any]:
        return {"kind": "case", "key": c.key, "backend": c.backend, "net": c.net, "size": c.size,
                "width": c.width, "height": c.height, "batch": c.batch,
                "precision": c.precision}

    def _run_group(self, group: list[Case]) -> None:
        first = group[0]
        self._step(first.key)
        driver: Driver | None = None
        failure = ("failed", "no driver")
        try:
            driver = open_driver(first.backend, first.net, self.store, self.s.threads,
                                 (first.height, first.width))
        except Unavailable as e:
            failure = ("skipped", str(e))
        except Exception as e:  # noqa: BLE001 - recorded, the run goes on
            log.info("opening %s failed", first.key, exc_info=True)
            failure = ("failed", _one_line(e))
        if driver is None:
            for k, c in enumerate(group):
                if k:
                    self._step(c.key)
                self.records.append({**self._base(c), "status": failure[0], "reason": failure[1]})
            return
        try:
            for k, c in enumerate(group):
                if k:
                    self._step(c.key)
                try:
                    self.records.append(self._measure(driver, c))
                except Exception as e:  # noqa: BLE001
                    log.info("case %s failed", c.key, exc_info=True)
                    self.records.append({**self._base(c), "status": "failed",
                                         "reason": _one_line(e)})
        finally:
            driver.close()

    def _onnx_for(self, c: Case) -> Path:
        if c.backend == "ort-cuda-fp16":
            return self.store.fp16(c.net)
        return self.store.get(c.net).onnx

    def _measure(self, driver: Driver, c: Case) -> dict[str, Any]:
        m = driver.multiple
        h, w = -(-c.height // m) * m, -(-c.width // m) * m
        batch_bytes = c.batch * 3 * h * w * 4
        n_buf = timing.buffer_count(batch_bytes)
        frames = timing.real_frames((c.width, c.height), min(32, n_buf * c.batch), self.s.clip)
        buffers = timing.input_batches(frames, c.batch, n_buf, m)
        del frames
        handles = [driver.upload(b) for b in buffers]
        driver.sync()
        t = timing.measure(driver.infer, handles, sync=driver.sync, warmup=self.s.warmup,
                           min_repeats=self.s.min_repeats, max_seconds=self.s.max_seconds,
                           batch=c.batch)
        rec = {**self._base(c), "status": "measured", "runs_on": driver.runs_on,
               "device": driver.device, **t.as_dict()}
        if driver.device == "cuda":
            short = dict(warmup=1, min_repeats=5, max_seconds=0.5)
            up = timing.measure(driver.upload, buffers, sync=driver.sync, **short)
            out = [driver.infer(hd) for hd in handles[:1]]
            down = timing.measure(driver.download, out, sync=driver.sync, **short)
            rec.update(ms_upload=round(up.median * 1e3, 3), ms_download=round(down.median * 1e3, 3))
        else:
            rec.update(ms_upload=None, ms_download=None, copies=CPU_NOTE)
        try:
            cost = floors.frame_cost(self._onnx_for(c), c.batch, h, w)
            rec.update(floors.fractions(cost, t.median, self.peaks.get(driver.device),
                                        c.precision))
        except Exception as e:  # noqa: BLE001 - no floors for this case; say why
            rec["floors_error"] = _one_line(e)
        return rec

    # --- end to end --------------------------------------------------------------------------

    def _e2e_plan(self) -> tuple[str | None, str | None, str]:
        """(backend, net) for the end-to-end runs, or (None, None, why not)."""
        from .backends import unavailable_reason

        chosen = {c.backend for c in self.cases}
        backend = next((b for b in E2E_PREFERENCE if b in chosen and not unavailable_reason(b)),
                       None)
        if backend is None:
            return None, None, "needs an ONNX Runtime backend among --backends that runs here"
        nets = [c.net for c in self.cases if c.net != "wct"]
        if not nets:
            return None, None, "needs the full or the lite net among --nets"
        gpu = backend != "ort-cpu-fp32"
        net = "full" if gpu and "full" in nets else "lite" if "lite" in nets else nets[0]
        return backend, net, ""

    def _e2e_size(self, gpu: bool, live: bool, native: tuple[int, int]) -> tuple[int, int]:
        if self.s.e2e_size:
            return self.s.e2e_size
        if gpu:
            return (1280, 720) if live else (1920, 1080)
        return native if self.s.quick else (640, 360)

    def _end_to_end(self) -> None:
        from .. import assets, video
        from ..stylizer import Stylizer
        from . import e2e

        self._step("end to end: rtstyle video")
        backend, net, why = self._e2e_plan()
        base = {"backend": backend, "net": net}
        if backend is None:
            for kind in ("e2e-video", "live"):
                self.records.append({"kind": kind, **base, "status": "skipped", "reason": why})
            self._step("end to end: live loop")
            return
        from .backends import ORT_SPECS

        gpu = backend != "ort-cpu-fp32"
        clip = self.s.clip or assets.path(assets.DEMO_CLIP)
        container, vstream, _ = video.probe(clip)
        native = (vstream.width, vstream.height)
        container.close()
        folder = self.workdir / "e2e"
        folder.mkdir(parents=True, exist_ok=True)
        for kind in ("e2e-video", "live"):
            if kind == "live":
                self._step("end to end: live loop")
            live = kind == "live"
            w, h = self._e2e_size(gpu, live, native)
            frames = self.s.live_frames if live else self.s.e2e_frames
            rec: dict[str, Any] = {"kind": kind, **base, "width": w, "height": h,
                                   "device": "cuda" if gpu else "cpu"}
            try:
                model = self.store.fp16(net) if backend == "ort-cuda-fp16" else \
                    self.store.get(net).onnx
                st = Stylizer({net: model}, backend=ORT_SPECS[backend], threads=self.s.threads,
                              warm_up=(h, w))
                source = e2e.make_clip(clip, folder / f"{kind}_{w}x{h}.mp4", (w, h), frames)
                if live:
                    rec.update(e2e.live_latency(source, st, frames))
                else:
                    batch = 8 if gpu else 1
                    rec.update(e2e.video_throughput(source, st, folder / "out.mp4", batch))
                    rec.update(self._copies(backend, net, w, h, gpu))
                rec.update(status="measured", runs_on=st.describe())
            except Unavailable as e:
                rec.update(status="skipped", reason=str(e))
            except Exception as e:  # noqa: BLE001
                log.info("%s failed", kind, exc_info=True)
                rec.update(status="failed", reason=_one_line(e))
            self.records.append(rec)

    def _copies(self, backend: str, net: str, w: int, h: int, gpu: bool) -> dict[str, Any]:
        if not gpu:
            return {"ms_upload": None, "ms_download": None, "copies": CPU_NOTE}
        for r in self.records:
            if r.get("kind") == "case" and r.get("status") == "measured" and \
                    r["backend"] == backend and r["net"] == net and r["size"] == f"{w}x{h}":
                return {"ms_upload": round(r["ms_upload"] / r["batch"], 3),
                        "ms_download": round(r["ms_download"] / r["batch"], 3),
                        "copies": f"per frame, from the latency case {r['key']} (timed on their "
                                  "own; inside the pipeline they are part of inference)"}
        return {"ms_upload": None, "ms_download": None,
                "copies": "inside inference (no latency case at this size to time them apart)"}


def run_has_gpu() -> bool:
    from ..sysinfo import gpu_names

    return bool(gpu_names())


def run(cases: Sequence[Case], settings: Settings, workdir: str | os.PathLike,
        on_step: Callable[[int, int, str], None] | None = None, command: str = "") -> list[dict]:
    """Run ``cases`` (and the peaks and end-to-end runs ``settings`` ask for); the records."""
    return Runner(cases, settings, workdir, on_step, command).run()
