"""``rtstyle webcam``: a live stylised window from a camera, a video file or a stream.

Keys: n/p next/previous style, 1-9 pick a style, +/- strength, c preserve colour, b blend with
the next style, t stabilise on/off, s split view, r record (MP4), space screenshot (PNG),
f fullscreen, h overlay, q/Esc quit. All styles given (default: every installed one) are
preloaded, so switching is instant. --stabilize steadies the picture (t toggles it).
--headless --output out.mp4 runs the same loop without a window.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .args import add_common, positive_float, positive_int
from .engine_args import add_control_args, add_stabilize_arg


def register(sub) -> None:
    p = sub.add_parser("webcam", help="live stylised window (camera, video file or stream)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p)
    p.add_argument("--source", default="0",
                   help="camera index (0), device (/dev/video2), video file, or stream URL")
    p.add_argument("--size", metavar="WxH", help="capture size to ask the camera for, e.g. 1280x720")
    p.add_argument("--fps", type=positive_float, help="capture frame rate to ask for")
    p.add_argument("--loop", action="store_true", help="loop a video file source")
    p.add_argument("--style", metavar="A,B,C",
                   help="styles to preload (names or paths; default: every installed style)")
    add_control_args(p)
    add_stabilize_arg(p)
    p.add_argument("--headless", action="store_true", help="no window (needs --output)")
    p.add_argument("-o", "--output", metavar="OUT.mp4",
                   help="also write what is shown to this file (missing folders are created)")
    p.add_argument("--frames", type=positive_int, help="stop after this many frames")
    p.add_argument("--fullscreen", action="store_true", help="start fullscreen")
    p.add_argument("--reconnect", action="store_true",
                   help="when the camera disconnects, keep trying to reopen it")
    p.add_argument("--screenshots", default="out/screenshots", metavar="DIR",
                   help="where the S key saves a PNG of what is shown (default out/screenshots)")
    p.add_argument("--recordings", default="out/recordings", metavar="DIR",
                   help="where the R key records what is shown, as MP4 (default out/recordings)")
    p.add_argument("--keys", metavar="F:K,...", help=argparse.SUPPRESS)  # scripted keys (tests, demos)
    p.set_defaults(run=run)


def _paintings_given_as_styles(args) -> None:
    """Image files in ``--style`` join ``--style-image`` (the any-painting path), said in a line."""
    from .. import images

    if not args.style:
        return
    items = [s.strip() for s in args.style.split(",") if s.strip()]
    paintings = [s for s in items if Path(s).is_file() and Path(s).suffix.lower()
                 in images.READ_SUFFIXES]
    for p in paintings:
        print(f"rtstyle: {p} is a painting: stylising with the any-painting path (train a "
              "net for it with 'rtstyle train')", file=sys.stderr)
    args.style_image = [*(args.style_image or []), *paintings]
    args.style = ",".join(s for s in items if s not in paintings) or None


def _styles(spec):
    from .. import multistyle, styles
    from ..errors import InputError
    from ..multistyle import Mix

    if spec:
        items = [s.strip() for s in spec.split(",") if s.strip()]
        found = {i: styles.locate(i) for i in items}
        return {(m.label if isinstance(m, Mix) else _label(i, m)): m for i, m in found.items()}
    found = styles.installed()
    usable = {s.name: s.folder for s in found if s.onnx and not s.members}
    for s in found:  # every style of a multi-style net: n/p morph between them
        if s.onnx and s.members:
            usable.update({m: multistyle.mix_of(s.folder, s.members, [(m, 1.0)])
                           for m in s.members if m not in usable})
    if not usable:
        raise InputError("no styles installed: pass --style with an .onnx file or model folder "
                         "(see 'rtstyle styles')")
    return usable


def _label(spec: str, path) -> str:
    from pathlib import Path

    p = Path(path)
    if p.name in ("model", "model.onnx", "model.fp16.onnx"):
        p = p.parent if p.name == "model" else p.parent.parent if p.parent.name == "model" else p.parent
    return p.stem if p.suffix == ".onnx" else p.name


def scripted_keys(text: str | None, counter):
    """``"5:n,10:s,20:q"``: press key K when frame F is shown (``space`` and ``esc`` by name)."""
    import cv2

    from ..errors import InputError

    script = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        frame, _, key = item.partition(":")
        try:
            script[int(frame)] = {"space": 32, "esc": 27}.get(key, ord(key[0]) if key else -1)
        except (ValueError, IndexError):
            raise InputError(f"--keys expects FRAME:KEY items, got '{item}'") from None

    def source(delay: int) -> int:
        real = cv2.waitKey(delay)
        return script.pop(counter(), real) if script else real

    return source


def run(args: argparse.Namespace) -> int:
    from .. import interrupts, live, sources
    from ..errors import InputError
    from ..stylizer import Controls, Stylizer

    if args.headless and not args.output:
        raise InputError("--headless needs --output OUT.mp4 (there is no window to show)")
    if args.output:
        from .. import video

        video.check_paths(args.source, args.output)
    if not args.headless:
        live.check_display()
    size = sources.parse_size(args.size)
    from .engine_args import painting_styles, with_mixes

    _paintings_given_as_styles(args)
    paintings = painting_styles(args, None)
    models = {**(_styles(args.style) if args.style or not paintings else {}), **paintings}
    blend = None
    if args.blend:
        from .. import styles as styles_mod

        path = styles_mod.find(args.blend)
        blend = _label(args.blend, path)
        models.setdefault(blend, path)
    controls = Controls(strength=args.strength, preserve_color=args.preserve_color, blend=blend,
                        blend_weight=args.blend_weight, stabilize=args.stabilize)
    source = sources.Source(args.source, size, args.fps, args.loop)
    print(f"source {source.describe()}")
    warm = (source.size[1], source.size[0]) if min(source.size) >= 16 else None
    models = with_mixes(models, args.backend, args.threads, warm, args.fp16)
    st = Stylizer(models, backend=args.backend, threads=args.threads, scale=args.scale,
                  max_side=args.max_side, controls=controls, warm_up=warm, fp16=args.fp16)
    print(f"styles: {', '.join(st.names)} on {st.describe()}")
    total = live.LiveStats()
    writer = None
    if args.output:
        from ..video import FrameWriter

        writer = FrameWriter(args.output)  # one file across reconnects
    with interrupts.deferred() as stop:
        try:
            _loop(args, st, source, size, writer, stop, total)
        finally:
            if writer is not None:
                path = writer.close()
                if path:
                    total.recordings.append(path)
    source = total.source
    lat = sorted(total.latency_ms)
    med = lat[len(lat) // 2] if lat else 0.0
    for path in total.screenshots:
        print(f"screenshot {path}")
    for path in total.recordings:
        print(f"recording {path}")
    print(f"{total.frames} frames in {total.seconds:.1f} s ({total.fps:.1f} fps), median latency "
          f"{med:.0f} ms, {total.dropped} dropped; ended by {total.ended_by or 'quit'}")
    if total.ended_by == "end of source" and not source.is_file:
        print(f"rtstyle: error: source {args.source} stopped delivering frames (disconnected?); "
              "use --reconnect to keep retrying", file=sys.stderr)
        return 1
    return 130 if total.ended_by == "signal" else 0


def _reopen(args, size, stop):
    from .. import sources

    while not stop.requested:
        try:
            return sources.Source(args.source, size, args.fps, args.loop)
        except sources.SourceError:
            time.sleep(1.0)
    return None


def _loop(args, st, source, size, writer, stop, total) -> None:
    """Run the window until it ends; with --reconnect, reopen a source that stopped."""
    from .. import live, sources

    while True:
        total.source = source
        loop = live.LiveLoop(st, sources.LatestFrame(source), window=not args.headless,
                             shots_dir=args.screenshots, record_dir=args.recordings,
                             max_frames=args.frames, fullscreen=args.fullscreen, writer=writer)
        if args.keys:
            loop.key_source = scripted_keys(args.keys, lambda: loop.stats.frames)
        stats = loop.run(lambda: stop.requested)
        total.frames += stats.frames
        total.seconds += stats.seconds
        total.dropped += stats.dropped
        total.screenshots += stats.screenshots
        total.recordings += stats.recordings
        total.latency_ms += stats.latency_ms
        total.ended_by = stats.ended_by
        if stats.ended_by != "end of source" or source.is_file or not args.reconnect:
            break
        print(f"rtstyle: source {args.source} stopped delivering frames; reconnecting "
              "(Ctrl-C to stop)", file=sys.stderr, flush=True)
        source = _reopen(args, size, stop)
        if source is None:  # stopped while waiting for the source to come back
            total.ended_by = "signal"
            break
