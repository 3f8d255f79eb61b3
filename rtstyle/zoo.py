"""The shipped style zoo: a recipe file (``export/zoo.toml``) and the builder that turns each
painting into installed model folders: train, evaluate against Gatys, export, install.

Each step runs the ``rtstyle`` command a user would run (``train``, ``evaluate``, ``export``), so
the zoo is built exactly as documented, with their progress bars, checkpoints and checks. The
builder is idempotent: a finished training run is kept, an interrupted one is resumed from its
checkpoint, a run with fewer steps than asked is continued (``--resume --steps N``).
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import metadata, onnx_model, report
from .errors import ConfigError, InputError

log = logging.getLogger(__name__)

NETS = ("full", "lite", "tiny")
#: The quality bar of the zoo issue: a full net's loss no worse than Gatys after 100 L-BFGS
#: iterations, a lite net's no worse than after 50 (same loss, same images, 512 px).
BAR_ITERATIONS = {"full": 100, "lite": 50, "tiny": 50}
#: The paper's schedule (Johnson et al. 2016): a label says how far below it a net stopped.
PAPER_STEPS = 40000
#: Files copied from a run's model folder into the installed folder (when they exist). Not the
#: training preview: it shows training photos, which stay out of the repository.
SHIPPED_FILES = (metadata.METADATA_FILE, metadata.WEIGHTS_FILE, onnx_model.FP32_FILE,
                 onnx_model.FP16_FILE, metadata.STYLE_FILE)


@dataclass(frozen=True)
class ZooStyle:
    key: str
    file: str
    credit: str
    style_name: str
    license: str = "public domain"
    style_weight: float = 10.0
    nets: tuple[str, ...] = ("full", "lite")
    #: longer side of the painting in training (None: the crop size); sets the stroke scale
    style_size: int | None = None
    #: zoo key whose installed net of the same size a new run starts from (None: random)
    init: str | None = None

    def installed_name(self, net: str) -> str:
        return installed_name(self.key, net)


@dataclass(frozen=True)
class Finish:
    """A last phase of every net's training on larger crops, from the net its main run made and
    at the same stroke scale (the painting keeps its training size). Nets trained on 256 px
    crops and used at 512 px (the evaluation) or 640x360 (a webcam) come out with about twice
    the style loss they trained to; a short phase at the size of use takes most of it back."""
    image_size: int
    batch_size: int
    steps: int


@dataclass(frozen=True)
class Grow:
    """A net grown (Net2Net, ``rtstyle train --init``) from the same painting's installed net of
    another size instead of a main run of its own: it starts computing what that net computes
    and trains only in the finishing phase's crops, with its own schedule."""
    source: str
    steps: int
    #: Adam learning rate (None: the preset's)
    lr: float | None = None
    #: learning-rate warm-up steps (``rtstyle train --warmup``): Adam's first full-size steps
    #: throw a trained net far off
    warmup: int = 0


def installed_name(key: str, net: str) -> str:
    """The folder a zoo style's net is installed as: the key for the full net, else key_net."""
    return key if net == "full" else f"{key}_{net}"


@dataclass(frozen=True)
class Zoo:
    styles: tuple[ZooStyle, ...]
    preset: str = "default"
    steps: int = PAPER_STEPS
    evaluate_images: tuple[str, ...] = ()
    evaluate_size: int = 512
    evaluate_iterations: tuple[int, ...] = (50, 100)
    sheet_images: tuple[str, ...] = ()
    flicker_video: str | None = None
    flicker_frames: int = 30
    finish: Finish | None = None
    #: nets grown from another net of the same painting (see :class:`Grow`), by net
    grow: dict[str, Grow] = field(default_factory=dict)

    def build_order(self, nets: Sequence[str]) -> list[str]:
        """``nets`` with every net a grown one starts from built before it."""
        return sorted(nets, key=lambda n: n in self.grow)  # stable: recipe order otherwise

    def select(self, keys: Sequence[str] | None) -> list[ZooStyle]:
        if not keys:
            return list(self.styles)
        by_key = {s.key: s for s in self.styles}
        missing = [k for k in keys if k not in by_key]
        if missing:
            raise InputError(f"not in the zoo: {', '.join(missing)} (it has "
                             f"{', '.join(by_key)})")
        return [by_key[k] for k in keys]


def _typed(value: Any, kind: type, where: str) -> Any:
    ok = isinstance(value, kind) and not isinstance(value, bool) if kind in (int, float) \
        else isinstance(value, kind)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise ConfigError(f"{where} must be a {kind.__name__}, got {value!r}")
    return value


def load(path: str | os.PathLike) -> Zoo:
    """Read and check a zoo recipe file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise InputError(f"cannot read the zoo recipe {path}: {e.strerror or e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from e
    defaults = data.get("defaults", {})
    unknown = set(defaults) - {"preset", "nets", "steps", "style_weight", "evaluate_images",
                               "evaluate_size", "evaluate_iterations", "sheet_images",
                               "flicker_video", "flicker_frames", "finish", "grow"}
    if unknown:
        raise ConfigError(f"{path}: unknown settings in [defaults]: {', '.join(sorted(unknown))}")
    styles = []
    for key, s in (data.get("styles") or {}).items():
        where = f"{path} [styles.{key}]"
        if not isinstance(s, dict):
            raise ConfigError(f"{where} must be a table")
        extra = set(s) - {"file", "credit", "style_name", "license", "style_weight", "nets",
                          "style_size", "init"}
        if extra:
            raise ConfigError(f"{where}: unknown settings {', '.join(sorted(extra))}")
        for required in ("file", "credit"):
            if required not in s:
                raise ConfigError(f"{where}: '{required}' is missing")
        nets = tuple(s.get("nets", defaults.get("nets", ("full", "lite"))))
        bad = [n for n in nets if n not in NETS]
        if bad or not nets:
            raise ConfigError(f"{where}: nets must be among {', '.join(NETS)}, got {list(nets)}")
        weight = _typed(s.get("style_weight", defaults.get("style_weight", 10.0)), float,
                        f"{where} style_weight")
        if not weight > 0:
            raise ConfigError(f"{where}: style_weight must be positive, got {weight}")
        styles.append(ZooStyle(key=key, file=_typed(s["file"], str, f"{where} file"),
                               credit=_typed(s["credit"], str, f"{where} credit"),
                               style_name=_typed(s.get("style_name", key), str,
                                                 f"{where} style_name"),
                               license=_typed(s.get("license", "public domain"), str,
                                              f"{where} license"),
                               style_weight=weight, nets=nets,
                               style_size=_style_size(s.get("style_size"), where),
                               init=None if s.get("init") is None
                               else _typed(s["init"], str, f"{where} init")))
    keys = {s.key for s in styles}
    for s in styles:
        if s.init is not None and s.init not in keys:
            raise ConfigError(f"{path} [styles.{s.key}]: init must name a zoo style, got "
                              f"{s.init!r}")
    if not styles:
        raise ConfigError(f"{path} lists no styles ([styles.NAME] tables)")
    steps = _typed(defaults.get("steps", PAPER_STEPS), int, f"{path} steps")
    finish = _finish(defaults.get("finish"), f"{path} [defaults.finish]")
    grow = _grow(defaults.get("grow", {}), finish, f"{path} [defaults.grow]")
    its = tuple(_typed(i, int, f"{path} evaluate_iterations") for i in
                defaults.get("evaluate_iterations", (50, 100)))
    if steps < 1 or not its or min(its) < 1:
        raise ConfigError(f"{path}: steps and evaluate_iterations must be positive")
    return Zoo(styles=tuple(styles), steps=steps,
               preset=_typed(defaults.get("preset", "default"), str, "preset"),
               evaluate_images=tuple(defaults.get("evaluate_images", ())),
               evaluate_size=_typed(defaults.get("evaluate_size", 512), int, "evaluate_size"),
               evaluate_iterations=tuple(sorted(set(its))),
               sheet_images=tuple(defaults.get("sheet_images", ())),
               flicker_video=defaults.get("flicker_video"),
               flicker_frames=_typed(defaults.get("flicker_frames", 30), int, "flicker_frames"),
               finish=finish, grow=grow)


def _finish(value: Any, where: str) -> Finish | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table")
    fields = {"image_size": 16, "batch_size": 1, "steps": 1}
    unknown = set(value) - set(fields)
    missing = set(fields) - set(value)
    if unknown or missing:
        raise ConfigError(f"{where} needs exactly {', '.join(fields)}"
                          f" (unknown: {', '.join(sorted(unknown)) or '-'}; "
                          f"missing: {', '.join(sorted(missing)) or '-'})")
    got = {k: _typed(value[k], int, f"{where} {k}") for k in fields}
    for k, least in fields.items():
        if got[k] < least:
            raise ConfigError(f"{where}: {k} must be at least {least}, got {got[k]}")
    return Finish(**got)


def _grow(value: Any, finish: Finish | None, where: str) -> dict[str, Grow]:
    """``[defaults.grow.NET]`` tables: from (a net), steps, and optionally lr and warmup."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must hold one table per grown net ([defaults.grow.full])")
    out = {}
    for net, t in value.items():
        at = f"{where[:-1]}.{net}]"
        if not isinstance(t, dict):
            raise ConfigError(f"{at} must be a table")
        unknown = set(t) - {"from", "steps", "lr", "warmup"}
        if unknown or "from" not in t or "steps" not in t:
            raise ConfigError(f"{at} needs from and steps (and may have lr, warmup); "
                              f"unknown: {', '.join(sorted(unknown)) or '-'}")
        source = t["from"]
        if net not in NETS or source not in NETS or net == source:
            raise ConfigError(f"{at}: from = {source!r} must name a net other than {net!r} "
                              f"among {', '.join(NETS)}")
        grow = Grow(source, _typed(t["steps"], int, f"{at} steps"),
                    None if t.get("lr") is None else _typed(t["lr"], float, f"{at} lr"),
                    _typed(t.get("warmup", 0), int, f"{at} warmup"))
        if grow.steps < 1 or grow.warmup < 0 or (grow.lr is not None and not grow.lr > 0):
            raise ConfigError(f"{at}: steps must be at least 1, lr positive, warmup >= 0")
        out[net] = grow
    if out and finish is None:
        raise ConfigError(f"{where}: grown nets train in the finishing phase's crops; add "
                          "[defaults.finish]")
    return out


def _style_size(value: Any, where: str) -> int | None:
    if value is None:
        return None
    size = _typed(value, int, f"{where} style_size")
    if size < 16:
        raise ConfigError(f"{where}: style_size must be at least 16, got {size}")
    return size


@dataclass
class BuildOptions:
    """Where things are and how to train; defaults suit a GPU run of the paper's schedule."""
    styles_dir: Path
    data: Path
    photos_dir: Path
    videos_dir: Path | None = None
    runs: Path = Path("runs/zoo")
    install: Path = Path("models")
    steps: int | None = None  # None: the recipe's
    device: str = "auto"
    amp: str | None = None
    channels_last: bool = False
    batch_size: int | None = None
    workers: int | None = None
    fp16: bool = True
    evaluate: bool = True
    evaluate_size: int | None = None
    evaluate_iterations: tuple[int, ...] | None = None
    evaluate_device: str | None = None
    checkpoint_every: int = 500
    extra_train_args: tuple[str, ...] = ()
    quiet: bool = False
    python: str = field(default_factory=lambda: sys.executable)


@dataclass
class Built:
    style: ZooStyle
    net: str
    folder: Path
    steps: int
    evaluation: dict[str, Any] | None
    fp16: bool


def run_folder(opts: BuildOptions, style: ZooStyle, net: str) -> Path:
    return opts.runs / f"{style.key}-{net}"


def finish_folder(opts: BuildOptions, style: ZooStyle, net: str) -> Path:
    return opts.runs / f"{style.key}-{net}-finish"


def shipped_run(zoo: Zoo, opts: BuildOptions, style: ZooStyle, net: str) -> Path:
    """The run whose model is evaluated and installed: the finishing phase's, if any."""
    return finish_folder(opts, style, net) if zoo.finish else run_folder(opts, style, net)


def _trained_steps(run: Path) -> int:
    try:
        return int(metadata.read(run / "model")["training"]["steps"])
    except (metadata.ModelError, KeyError, TypeError, ValueError):
        return 0


def train_command(zoo: Zoo, style: ZooStyle, net: str, opts: BuildOptions) -> list[str] | None:
    """The ``rtstyle train`` command for one net, or None when the run already has its steps
    or the net has no main run (a grown net)."""
    if net in zoo.grow:
        return None
    run = run_folder(opts, style, net)
    steps = opts.steps or zoo.steps
    done = _trained_steps(run)
    if done >= steps:
        return None
    cmd = _train_base(run, steps, opts)
    if (run / "checkpoint.pt").is_file():
        return cmd + ["--resume"]
    cmd += _style_args(zoo, style, net, opts)
    if style.style_size:
        cmd += ["--style-size", str(style.style_size)]
    if style.init:
        start = opts.install / installed_name(style.init, net)
        if not (start / metadata.METADATA_FILE).is_file():
            raise InputError(f"{style.key} starts from {style.init}'s {net} net, which is not "
                             f"installed in {opts.install}: build {style.init} first")
        cmd += ["--init", str(start)]
    if opts.amp:
        cmd += ["--amp", opts.amp]
    if opts.channels_last:
        cmd.append("--channels-last")
    if opts.batch_size:
        cmd += ["--batch-size", str(opts.batch_size)]
    return cmd + list(opts.extra_train_args)


def finish_command(zoo: Zoo, style: ZooStyle, net: str, opts: BuildOptions) -> list[str] | None:
    """The finishing phase's ``rtstyle train`` command (see :class:`Finish`), or None when the
    recipe has none or its run already has its steps."""
    f, grow = zoo.finish, zoo.grow.get(net)
    run = finish_folder(opts, style, net)
    steps = grow.steps if grow else f.steps if f else 0
    if f is None or _trained_steps(run) >= steps:
        return None
    cmd = _train_base(run, steps, opts)
    if (run / "checkpoint.pt").is_file():
        return cmd + ["--resume"]
    start = _finish_start(zoo, style, net, opts)
    config = metadata.read(start).get("recipe", {}).get("config", {})
    style_size = style.style_size or config.get("style_size") or config.get("image_size")
    if not style_size:
        raise InputError(f"{start} does not say its training size (recipe.config.image_size)")
    cmd += _style_args(zoo, style, net, opts) + ["--init", str(start),
                                                 "--style-size", str(style_size)]
    if grow and grow.lr is not None:
        cmd += ["--lr", repr(grow.lr)]
    if grow and grow.warmup:
        cmd += ["--warmup", str(grow.warmup)]
    if opts.amp:
        cmd += ["--amp", opts.amp]
    if opts.channels_last:
        cmd.append("--channels-last")
    return cmd + list(opts.extra_train_args) + ["--image-size", str(f.image_size),
                                                "--batch-size", str(f.batch_size)]


def _finish_start(zoo: Zoo, style: ZooStyle, net: str, opts: BuildOptions) -> Path:
    """The net a finishing phase starts from: the main run's, or for a grown net the
    painting's installed net it grows from."""
    if net not in zoo.grow:
        return run_folder(opts, style, net) / "model"
    source = zoo.grow[net].source
    start = opts.install / style.installed_name(source)
    if not (start / metadata.METADATA_FILE).is_file():
        raise InputError(f"{style.key}'s {net} net grows from its {source} net, which is "
                         f"not installed in {opts.install}: build that first")
    return start


def _train_base(run: Path, steps: int, opts: BuildOptions) -> list[str]:
    cmd = [opts.python, "-m", "rtstyle", "train", "--out", str(run), "--steps", str(steps),
           "--device", opts.device, "--checkpoint-every", str(opts.checkpoint_every)]
    if opts.workers is not None:
        cmd += ["--workers", str(opts.workers)]
    if opts.quiet:
        cmd.append("--quiet")
    return cmd


def _style_args(zoo: Zoo, style: ZooStyle, net: str, opts: BuildOptions) -> list[str]:
    source = opts.styles_dir / style.file
    if not source.is_file():
        raise InputError(f"style image not found: {source} (give --styles-dir)")
    return ["--style", str(source), "--data", str(opts.data), "--net", net,
            "--preset", zoo.preset, "--style-name", style.style_name,
            "--style-credit", style.credit, "--style-license", style.license,
            "--style-weight", repr(style.style_weight)]


def evaluate_command(zoo: Zoo, style: ZooStyle, net: str, opts: BuildOptions) -> list[str]:
    run = shipped_run(zoo, opts, style, net)
    photos = [str(opts.photos_dir / p) for p in zoo.evaluate_images]
    missing = [p for p in photos if not Path(p).is_file()]
    if missing or not photos:
        raise InputError(f"evaluation photos not found: {', '.join(missing) or '(none listed)'} "
                         "(give --photos-dir)")
    its = opts.evaluate_iterations or zoo.evaluate_iterations
    return [opts.python, "-m", "rtstyle", "evaluate", "--model", str(run / "model"), "--images",
            *photos, "--size", str(opts.evaluate_size or zoo.evaluate_size), "--iterations",
            ",".join(str(i) for i in its), "--out", str(run / "evaluation"), "--device",
            opts.evaluate_device or opts.device] + (["--quiet"] if opts.quiet else [])


def flicker_command(zoo: Zoo, style: ZooStyle, net: str, opts: BuildOptions) -> list[str] | None:
    """``rtstyle flicker`` on the recipe's clip (None when the recipe or options name none)."""
    if not zoo.flicker_video or opts.videos_dir is None:
        return None
    video = opts.videos_dir / zoo.flicker_video
    if not video.is_file():
        raise InputError(f"flicker clip not found: {video} (give --videos-dir)")
    run = shipped_run(zoo, opts, style, net)
    return [opts.python, "-m", "rtstyle", "flicker", "--model", str(run / "model"), "--video",
            str(video), "--frames", str(zoo.flicker_frames), "--backend", "ort-cpu",
            "--style-loss-frames", "0", "--out", str(run / "flicker")]


def stability(flicker: dict[str, Any], command: Sequence[str]) -> dict[str, Any]:
    """The flicker figures kept in ``model.json``: warping error of the stylised clip and of
    the original clip (the floor), 0..255 RGB (see ``rtstyle flicker``)."""
    return {"video": Path(flicker["video"]).name, "frames": flicker["frames"],
            "warping_error": flicker["warping_error"],
            "original_warping_error": flicker["original_warping_error"],
            "command": " ".join(_shown(command))}


def _reusable_evaluation(ev_file: Path, model: Path, command: list[str]) -> dict | None:
    """An earlier evaluation of these very weights by the same command (Gatys at 512 px costs
    minutes per image on a CPU), else None."""
    stamp = ev_file.parent / "command.json"
    try:
        same = json.loads(stamp.read_text())["command"][1:] == command[1:]
        newer = ev_file.stat().st_mtime >= (model / metadata.WEIGHTS_FILE).stat().st_mtime
        return json.loads(ev_file.read_text()) if same and newer else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def summarise(evaluation: dict[str, Any], net: str, command: Sequence[str]) -> dict[str, Any]:
    """The evaluation block of ``model.json``: per image the net's loss, the Gatys loss at each
    iteration count and the equivalent iterations; whether the zoo's quality bar is met."""
    bar = BAR_ITERATIONS[net]
    rows = []
    for r in evaluation["images"]:
        rows.append({"image": Path(r["image"]).name, "net_loss": r["net"]["total"],
                     "gatys_loss": r["gatys"],
                     "equivalent_iterations": r["equivalent_iterations"],
                     "artifacts": r.get("artifacts")})
    reached = [r for r in evaluation["images"] if str(bar) in r["gatys"]]
    met = bool(reached) and len(reached) == len(rows) and all(
        r["net"]["total"] <= r["gatys"][str(bar)] for r in reached)
    s = evaluation["summary"]
    return {
        "size": evaluation["size"], "device": evaluation["device"],
        "gatys": evaluation["gatys"], "images": rows,
        "equivalent_iterations_median": s["equivalent_iterations_median"],
        "bar": {"gatys_iterations": bar, "met": met if reached else None},
        "command": " ".join(_shown(command)),
        "date": datetime.date.today().isoformat(),
    }


def _shown(command: Sequence[str]) -> list[str]:
    """A command as a person would type it (``rtstyle`` for ``python -m rtstyle``)."""
    cmd = list(command)
    if len(cmd) > 2 and cmd[1:3] == ["-m", "rtstyle"]:
        cmd = ["rtstyle", *cmd[3:]]
    cmd = [os.path.relpath(c) if os.path.isabs(c) and os.path.exists(os.path.dirname(c)) else c
           for c in cmd]
    return [c if c and " " not in c else json.dumps(c) for c in cmd]


def label(training: dict[str, Any], net: str | None = None) -> str:
    """How the net was made, for ``rtstyle styles`` and the README: every step and hour behind
    it (a fine-tuned net counts its starting point's too), the device, and for a net grown
    from a smaller one how many of those steps it trained itself."""
    steps = int(training.get("total_steps", training.get("steps", 0)))
    seconds = float(training.get("total_seconds", training.get("seconds", 0.0)))
    took = f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"
    said = f"trained: {steps:,} steps ({took}) on {training.get('device', '?')}"
    source = (training.get("init") or {}).get("net")
    if net and source and source != net:
        said += f", the last {int(training.get('steps', 0)):,} as a {net} net grown from the " \
                f"{source} net"
    if steps >= PAPER_STEPS:
        return said
    return f"{said}; the paper's schedule is {PAPER_STEPS:,} steps"


def _add_to_metadata(model: Path, extra: dict[str, Any]) -> None:
    meta = metadata.read(model)
    meta.update(extra)
    report.write_json(model / metadata.METADATA_FILE, meta)


def install(run: Path, target: Path) -> Path:
    """Copy a run's model folder into ``target`` (replaced as a whole, never left half
    written): a staging folder next to it is filled, then swapped in."""
    model = run / "model"
    metadata.read(model)
    if not (model / onnx_model.FP32_FILE).is_file():
        raise InputError(f"{model} has no {onnx_model.FP32_FILE}: export it first")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.installing"
    old = target.parent / f".{target.name}.old"
    for leftover in (staging, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    staging.mkdir()
    for name in SHIPPED_FILES:
        if (model / name).is_file():
            shutil.copy2(model / name, staging / name)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    if old.exists():
        shutil.rmtree(old)
    return target


def build(zoo: Zoo, style: ZooStyle, net: str, opts: BuildOptions,
          run: Callable[[list[str]], None] | None = None) -> Built:
    """Train (or resume), evaluate, export and install one net of one style."""
    run = run or _run
    cmd = train_command(zoo, style, net, opts)
    if cmd is not None:
        opts.runs.mkdir(parents=True, exist_ok=True)
        run(cmd)
    cmd = finish_command(zoo, style, net, opts)
    if cmd is not None:
        run(cmd)
    folder = shipped_run(zoo, opts, style, net)
    model = folder / "model"
    meta = metadata.read(model)
    steps = int(meta["training"].get("total_steps", meta["training"]["steps"]))
    if opts.fp16:  # first, so the evaluation and the flicker figures are the shipped weights'
        try:
            run([opts.python, "-m", "rtstyle", "export", "--model", str(model), "--fp16-weights"])
        except subprocess.CalledProcessError:
            log.warning("%s: float16 weights failed their check; they stay float32", model)
    summary = None
    if opts.evaluate:
        ev_cmd = evaluate_command(zoo, style, net, opts)
        ev_file = folder / "evaluation" / "evaluation.json"
        data = _reusable_evaluation(ev_file, model, ev_cmd)
        if data is None:
            run(ev_cmd)
            data = json.loads(ev_file.read_text())
            report.write_json(ev_file.parent / "command.json", {"command": ev_cmd})
        summary = summarise(data, net, ev_cmd)
    extra: dict[str, Any] = {"zoo": {"key": style.key, "label": label(meta["training"], net),
                                     "complete": steps >= PAPER_STEPS,
                                     "style_weight": style.style_weight}}
    fl_cmd = flicker_command(zoo, style, net, opts) if opts.evaluate else None
    if fl_cmd is not None:  # it runs the ONNX model: export first
        run([opts.python, "-m", "rtstyle", "export", "--model", str(model)])
        run(fl_cmd)
        data = json.loads((folder / "flicker" / "flicker.json").read_text())
        summary = {**(summary or {}), "stability": stability(data, fl_cmd)}
    if summary is not None:
        extra["evaluation"] = summary
    _add_to_metadata(model, extra)  # before the export: the ONNX model card carries it too
    run([opts.python, "-m", "rtstyle", "export", "--model", str(model)])
    fp16 = False
    if opts.fp16:
        try:
            run([opts.python, "-m", "rtstyle", "export", "--model", str(model), "--fp16"])
            fp16 = True
        except subprocess.CalledProcessError:
            log.warning("%s: the fp16 export failed its checks; shipping fp32 only", model)
            (model / onnx_model.FP16_FILE).unlink(missing_ok=True)
    else:
        (model / onnx_model.FP16_FILE).unlink(missing_ok=True)
    target = install(folder, opts.install / style.installed_name(net))
    return Built(style, net, target, steps, summary, fp16)


def _run(cmd: list[str]) -> None:
    log.info("$ %s", " ".join(_shown(cmd)))
    print("$ " + " ".join(_shown(cmd)), flush=True)
    subprocess.run(cmd, check=True)


def table(folders: Sequence[Path]) -> str:
    """A Markdown table of the installed zoo: style x net x loss x equivalent Gatys iterations,
    with the artifact figures (net output, and in brackets its input photo) and the flicker."""
    lines = ["| style | net | steps (device) | image | net loss | Gatys 50 | Gatys 100 | "
             "equivalent iterations | bar | checkerboard (photo) | edge shift (photo) | "
             "flicker (original) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for folder in folders:
        meta = metadata.read(folder)
        ev = meta.get("evaluation")
        t = meta.get("training", {})
        steps = f"{_steps(t)} ({t.get('device', '?')})"
        if not ev or not ev.get("images"):
            lines.append(f"| {folder.name} | {meta['net']['name']} | {steps} | not evaluated "
                         "| | | | | | | | |")
            continue
        bar = ev["bar"]
        verdict = "n/a" if bar["met"] is None else (
            f"{'met' if bar['met'] else 'NOT met'} (<= Gatys {bar['gatys_iterations']})")
        st = ev.get("stability")
        flick = f"{st['warping_error']:.2f} ({st['original_warping_error']:.2f})" if st else "-"
        for r in ev["images"]:
            g = r["gatys_loss"]
            eq = r["equivalent_iterations"]
            eq_text = f"> {max(int(k) for k in g)}" if eq is None else f"{eq:.0f}"
            a = r.get("artifacts") or {}
            lines.append(f"| {folder.name} | {meta['net']['name']} | {steps} | "
                         f"{Path(r['image']).stem} | {_sci(r['net_loss'])} | "
                         f"{_sci(g.get('50'))} | {_sci(g.get('100'))} | {eq_text} | {verdict} | "
                         f"{_pair(a, 'checkerboard')} | {_pair(a, 'edge_shift')} | {flick} |")
    return "\n".join(lines) + "\n"


def training_table(folders: Sequence[Path]) -> str:
    """A Markdown table of how each installed net was trained: style weight, steps and CPU-hours
    (of every run behind a fine-tuned net; its last run's steps in brackets), device, images/s
    and the final losses (means of the last steps)."""
    lines = ["| style | net | style weight | steps | hours | device | images/s | "
             "content loss | style loss |", "|---|---|---|---|---|---|---|---|---|"]
    for folder in folders:
        meta = metadata.read(folder)
        t, loss = meta.get("training", {}), meta["recipe"]["config"]["loss"]
        final = t.get("final_losses", {})
        secs, seen = t.get("seconds"), t.get("images_seen")
        rate = f"{seen / secs:.2f}" if secs and seen else "-"
        total = t.get("total_seconds", secs)
        hours = f"{total / 3600:.2f}" if total is not None else "-"
        lines.append(f"| {folder.name} | {meta['net']['name']} | {loss['style_weight']:g} | "
                     f"{_steps(t)} | {hours} | {t.get('device', '-')} | {rate} | "
                     f"{_sci(final.get('content'))} | {_sci(final.get('style'))} |")
    return "\n".join(lines) + "\n"


def _steps(training: dict[str, Any]) -> str:
    steps = training.get("steps", "-")
    if "total_steps" in training:
        return f"{training['total_steps']} ({steps} in its last run)"
    return str(steps)


def _pair(a: dict[str, Any], key: str) -> str:
    if a.get(key) is None:
        return "-"
    photo = a.get(f"{key}_photo")
    return f"{a[key]:.1f}" + (f" ({photo:.1f})" if photo is not None else "")


def _sci(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.3g}"


def _caption(meta: dict[str, Any], image: str) -> str:
    """``lite net = Gatys 15 it`` when the evaluation covered the photo, else the net."""
    net = meta["net"]["name"]
    for r in (meta.get("evaluation") or {}).get("images", []):
        if r["image"] == image and r["equivalent_iterations"] is not None:
            return f"{net} net = Gatys {r['equivalent_iterations']:.0f} it"
    return f"{net} net"


def contact_sheet(folders: Sequence[Path], photos: Sequence[Path], target: Path,
                  cell: int = 128, backend: str = "ort-cpu") -> Path:
    """A PNG: one column per installed style (its painting on top, then each photo stylised by
    its ONNX model through the runtime), the photos themselves in the first column."""
    from . import images
    from .grid import image_grid
    from .stylizer import Stylizer

    if not folders:
        raise InputError("no installed styles to show")
    originals = [images.read_image(p, max_side=2 * cell) for p in photos]
    columns, titles = [[None, *originals]], [["", *(Path(p).stem for p in photos)]]
    for folder in folders:
        st = Stylizer([folder], backend=backend)
        painting = images.read_image(folder / metadata.STYLE_FILE)
        columns.append([painting, *(st(img) for img in originals)])
        meta = metadata.read(folder)
        titles.append([folder.name, *(_caption(meta, Path(p).name) for p in photos)])
    rows = [list(r) for r in zip(*columns)]
    row_titles = [list(t) for t in zip(*titles)]
    return images.write_image(target, image_grid(rows, cell=cell, titles=row_titles))
