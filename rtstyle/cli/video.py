"""``rtstyle video IN [-o OUT]``: stylise a video file (or every video in a folder).

Decoding, inference and encoding run in parallel threads. Frame count, frame rate and timestamps
are kept, and the audio track is copied unchanged. The output appears only when it is complete:
Ctrl-C or an error leaves nothing at OUT.

Exit status: 0 every video done; 1 an error (for a folder: a video that could not be read);
3 a truncated or damaged video, whose frames that decode were written (a warning gives the
decoded and the declared durations); 130 interrupted.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .args import add_common, add_json_flag, nonneg_float, positive_float, positive_int
from .engine_args import (add_engine_args, add_stabilize_arg, choose_style, make_stylizer,
                    style_label)

#: Exit status of a run that wrote only what a truncated or damaged video let it decode.
EXIT_INCOMPLETE = 3


def register(sub) -> None:
    p = sub.add_parser("video", help="stylise a video file or a folder of videos",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p)
    p.add_argument("input", metavar="IN", help="video file, or a folder of videos")
    p.add_argument("old_output", metavar="OUT", nargs="?", help=argparse.SUPPRESS)  # old spelling
    p.add_argument("-o", "--output", metavar="PATH",
                   help="output .mp4/.mov/.mkv file, or a folder (default out/videos; missing "
                   "folders are created)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing files (default: write a numbered name and say so)")
    add_engine_args(p)
    add_stabilize_arg(p)
    g = p.add_argument_group("encoding")
    g.add_argument("--codec", default="libx264", help="video codec (default libx264 = H.264)")
    g.add_argument("--crf", type=int, default=18, help="x264/x265 quality, lower is better (18)")
    g.add_argument("--preset", default="medium", help="x264/x265 speed preset (default medium)")
    g.add_argument("--start", type=nonneg_float, default=0.0, metavar="SEC", help="start at")
    g.add_argument("--duration", type=positive_float, metavar="SEC", help="stylise this long")
    g.add_argument("--no-audio", action="store_true", help="drop the audio track")
    g.add_argument("--batch", type=positive_int, metavar="N",
                   help="frames per inference batch (default: 4 on a GPU backend, 1 on the CPU)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_json_flag(p, "one JSON record per video instead of the summary lines")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import interrupts, video
    from ..errors import InputError

    src = Path(args.input)
    check_input(src)
    dst = Path(output_option(args))
    options = video.EncodeOptions(codec=args.codec, crf=args.crf, preset=args.preset,
                                  audio=not args.no_audio)
    choose_style(args)
    stylizer = make_stylizer(args, shape=None)
    jobs = plan_jobs(src, dst, style_label(args, stylizer), args.overwrite)
    failed, incomplete = [], []
    with interrupts.deferred() as stop:
        for src_file, out_file in jobs:
            if src.is_dir():
                out_file.parent.mkdir(parents=True, exist_ok=True)
                try:
                    result = _one(src_file, out_file, stylizer, options, args, stop)
                except video.VideoError as e:
                    failed.append(f"{src_file}: {e}")
                    continue
            else:
                result = _one(src_file, out_file, stylizer, options, args, stop)
            if result.incomplete:
                incomplete.append(src_file)
                _warn_incomplete(src_file, result)
            if args.json:
                _print_record(src_file, result, stylizer)
                continue
            t = result.timings
            busy = sum(t.values()) or 1.0
            print(f"wrote {result.output}: {result.frames} frames {result.width}x{result.height} "
                  f"at {result.fps:.3g} fps, {result.audio_packets} audio packets"
                  f"{', padded to even size for H.264' if result.padded else ''}"
                  f"{f', turned upright ({result.rotated} deg)' if result.rotated else ''}"
                  f"{f', {result.skipped_packets} undecodable packets skipped' if result.skipped_packets else ''}"
                  f"; {result.fps_processed:.1f} frames/s on {stylizer.describe()} "
                  f"(decode {t['decode'] / busy:.0%}, inference {t['inference'] / busy:.0%}, "
                  f"encode {t['encode'] / busy:.0%} of busy time)")
    if failed:
        print(f"skipped {len(failed)} video(s) that could not be read:\n  " + "\n  ".join(failed))
        raise InputError(f"{len(failed)} of {len(jobs)} videos could not be read (listed above)")
    return EXIT_INCOMPLETE if incomplete else 0


def output_option(args: argparse.Namespace) -> str:
    """``-o/--output``, or the old positional OUT with a deprecation line."""
    import sys

    from ..errors import InputError

    if args.old_output is not None:
        if args.output is not None:
            raise InputError("give the output once: -o/--output (OUT after IN is the old way)")
        print("rtstyle: OUT after IN is deprecated and will go in the next release; use "
              "-o/--output", file=sys.stderr)
        return args.old_output
    return args.output or "out/videos"


def check_input(src: Path) -> None:
    from .. import images
    from ..errors import InputError

    if not src.exists():
        raise InputError(f"video not found: {src}")
    if src.is_file() and src.suffix.lower() in images.READ_SUFFIXES:
        raise InputError(f"{src} is a still image; stylise it with 'rtstyle image {src}'")


def plan_jobs(src: Path, dst: Path, label: str, overwrite: bool) -> list[tuple[Path, Path]]:
    """(input, output) pairs; checked for writing before any work. A folder OUT (or one without
    a video suffix) gets ``<stem>_<style>.mp4``; an existing output gets a numbered name (said
    in a line) unless ``overwrite``."""
    from .. import video
    from ..errors import InputError
    from .outputs import free_name

    if src.is_dir():
        files = video.list_videos(src)
        if not files:
            raise InputError(f"no videos found in {src}")
        if dst.exists() and not dst.is_dir():
            raise InputError(f"IN is a folder, so OUT must be a folder too: {dst}")
        pairs = [(f, dst / f.relative_to(src).with_name(f"{f.stem}_{label}.mp4")) for f in files]
    elif dst.is_dir() or not dst.suffix:
        pairs = [(src, dst / f"{src.stem}_{label}.mp4")]
    else:
        pairs = [(src, dst)]
    jobs, taken = [], set()
    for f, target in pairs:
        video.check_paths(f, target)  # the input itself, a bad suffix, an unwritable folder
        final = target if overwrite else free_name(target, taken)
        if final != target and not (src.is_dir() and target in taken):
            print(f"{target.name} exists: writing {final.name} instead (--overwrite replaces)")
        taken.add(final)
        video.check_paths(f, final)
        jobs.append((f, final))
    return jobs


def _print_record(src, result, stylizer) -> None:
    import json

    print(json.dumps({"input": str(src), "output": str(result.output), "frames": result.frames,
                      "declared_frames": result.declared_frames, "incomplete": result.incomplete,
                      "width": result.width, "height": result.height, "fps": result.fps,
                      "audio_packets": result.audio_packets, "seconds": round(result.seconds, 3),
                      "backend": stylizer.describe()}), flush=True)


def _warn_incomplete(src, result) -> None:
    import sys

    fps = result.fps or 1.0
    print(f"rtstyle: warning: {src} is truncated or damaged: decoded {result.frames} of "
          f"{result.declared_frames} declared frames ({result.frames / fps:.2f} s of "
          f"{result.declared_frames / fps:.2f} s); wrote what decoded to {result.output}",
          file=sys.stderr)


def _one(src, dst, stylizer, options, args, stop):
    from tqdm import tqdm

    from .. import video

    bar = tqdm(desc=Path(src).name, unit="frame", disable=True if args.quiet or args.json else None,
               dynamic_ncols=True)

    def on_frame(done, total):
        if total and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    try:
        stylizer.reset()  # --stabilize: nothing carries over from the previous video
        batch = args.batch or (1 if "cpu" in stylizer.describe() else 4)
        return video.stylize_video(src, dst, stylizer, options=options, start=args.start,
                                   duration=args.duration, on_frame=on_frame,
                                   should_stop=lambda: stop.requested, batch=batch)
    finally:
        bar.close()
