"""Where ``rtstyle image`` writes: ``-o/--output`` is a file (one input), a folder, or ``-`` for
standard output. An existing file is never replaced without ``--overwrite``: the output gets the
next free numbered name and the command says so. The output folder is created only when an
image is written, so a run that fails writes nothing at all.

One bad photo among many does not stop the others: every failure is listed at the end and the
command exits non-zero.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .. import images
from ..styles import unique_name
from ..errors import InputError, RtstyleError

STDIO = "-"


@dataclass(frozen=True)
class ImagePlan:
    #: Input files; None stands for an image read from standard input.
    inputs: list[Path | None]
    folder: Path | None = None
    file: Path | None = None
    to_stdout: bool = False
    fmt: str = "same"
    overwrite: bool = False


@dataclass
class Written:
    written: list[Path] = field(default_factory=list)
    #: (the name that was taken, the numbered name written instead)
    renamed: list[tuple[Path, Path]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: One record per input, for ``--json``: input, output, width, height (or error).
    records: list[dict] = field(default_factory=list)

    def raise_failures(self) -> int:
        """0, or an InputError naming every input that failed (the first one's text alone when
        it was the only input)."""
        if not self.failed:
            return 0
        if len(self.failed) == 1 and not self.written:
            raise InputError(self.failed[0][1])
        listed = "; ".join(f"{name}: {why}" for name, why in self.failed)
        raise InputError(f"{len(self.failed)} of {len(self.failed) + len(self.written)} images "
                         f"failed ({listed})")


def output_option(args: argparse.Namespace, default: str) -> str:
    """``-o/--output``, or the deprecated ``--out`` with a one-line warning."""
    if getattr(args, "out", None) is not None:
        if args.output is not None:
            raise InputError("give -o/--output or --out, not both")
        print("rtstyle: --out is deprecated and will go in the next release; use -o/--output",
              file=sys.stderr)
        return args.out
    return args.output or default


def plan_images(inputs: list[str], output: str, fmt: str, overwrite: bool) -> ImagePlan:
    """Check inputs and output before any work: which files, and where each result goes."""
    if STDIO in inputs and list(inputs) != [STDIO]:
        raise InputError("- (standard input) must be the only input")
    files: list[Path | None] = [None] if list(inputs) == [STDIO] else images.collect_images(inputs)
    if output == STDIO:
        if len(files) != 1:
            raise InputError(f"-o - writes one image to standard output; got {len(files)} inputs")
        return ImagePlan(files, to_stdout=True, fmt=fmt, overwrite=overwrite)
    out = Path(output)
    if len(files) == 1 and out.suffix.lower() in images.WRITE_FORMATS and not out.is_dir():
        _check_creatable(out.parent)
        return ImagePlan(files, file=out, fmt=fmt, overwrite=overwrite)
    if out.exists() and not out.is_dir():
        raise InputError(f"-o/--output must be a folder or an image file name (.png, .jpg), "
                         f"got an existing file: {out}")
    _check_creatable(out)
    if files == [None]:
        raise InputError("an image from standard input needs -o FILE or -o -")
    return ImagePlan(files, folder=out, fmt=fmt, overwrite=overwrite)


def _check_creatable(folder: Path) -> None:
    """The folder exists or can be made: no file sits where it or a parent should be."""
    for p in (folder, *folder.parents):
        if p.exists():
            if not p.is_dir():
                raise InputError(f"cannot create the output folder {folder}: {p} is a file")
            return


def target_names(plan: ImagePlan, label: str) -> list[Path]:
    """``<stem>_<label>.<ext>`` per input in the folder; inputs with the same name get _2, _3."""
    if plan.file is not None:
        return [plan.file]
    seen: set[str] = set()
    out = []
    for f in plan.inputs:
        suffix = _suffix(f, plan.fmt)
        name = unique_name(f"{f.stem}_{label}", lambda n, s=suffix: n + s in seen, sep="_")
        seen.add(name + suffix)
        out.append(plan.folder / f"{name}{suffix}")
    return out


def _suffix(f: Path, fmt: str) -> str:
    if fmt != "same":
        return f".{fmt}"
    return f.suffix.lower() if f.suffix.lower() in (".jpg", ".jpeg", ".png") else ".png"


def free_name(target: Path, taken: set[Path]) -> Path:
    """``target``, or ``name-2.ext``, ``name-3.ext``... the first that exists nowhere."""
    def used(stem: str) -> bool:
        path = target.with_name(stem + target.suffix)
        return path.exists() or path in taken

    return target.with_name(unique_name(target.stem, used) + target.suffix)


def single_output(output: str, overwrite: bool) -> Path | None:
    """Check ``-o`` of a command that writes one image before its work starts: None for ``-``
    (standard output), else the path to write (the next free numbered name unless
    ``overwrite``; the caller says so when it differs)."""
    if output == STDIO:
        return None
    path = images.check_image_path(output)
    return path if overwrite else free_name(path, set())


def write_single(path: Path | None, img) -> str:
    """Write one image to ``path`` or, for None, as PNG to standard output; where it went."""
    if path is None:
        sys.stdout.buffer.write(images.encode_image(img, ".png"))
        sys.stdout.buffer.flush()
        return "standard output"
    return str(images.write_image(path, img))


def write_images(plan: ImagePlan, label: str, stylize, quiet: bool) -> Written:
    """Stylise every input (``stylize(bgr) -> bgr``) and write it where the plan says."""
    from tqdm import tqdm

    done = Written()
    if plan.to_stdout or plan.inputs == [None]:
        img = _read(None)
        result = stylize(img)
        if plan.to_stdout:
            sys.stdout.buffer.write(images.encode_image(result, ".png"))
            sys.stdout.buffer.flush()
            return done
        _write(plan, plan.file, result, done, set())
        done.records[-1]["input"] = STDIO
        return done
    taken: set[Path] = set()
    targets = target_names(plan, label)
    for f, target in tqdm(list(zip(plan.inputs, targets)), desc="image", unit="img",
                          disable=True if quiet else None):
        try:
            result = stylize(_read(f))
        except RtstyleError as e:
            done.failed.append((f.name, str(e)))
            done.records.append({"input": str(f), "error": str(e)})
            continue
        _write(plan, target, result, done, taken)
        done.records[-1]["input"] = str(f)
    return done


def _read(f: Path | None):
    if f is None:
        return images.decode_image(sys.stdin.buffer.read())
    return images.read_image(f)


def _write(plan: ImagePlan, target: Path, img, done: Written, taken: set[Path]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    final = target if plan.overwrite else free_name(target, taken)
    if final != target:
        done.renamed.append((target, final))
    taken.add(final)
    done.written.append(images.write_image(final, img))
    done.records.append({"output": str(final), "width": int(img.shape[1]),
                         "height": int(img.shape[0])})
