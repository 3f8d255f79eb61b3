"""Stylising video files: PyAV decode -> engine -> PyAV encode, overlapped in three threads.

A reader thread demuxes and decodes (video frames become BGR arrays; audio packets are kept
as they are), the calling thread stylises, and a writer thread encodes and muxes. Bounded
queues keep the order and the memory in check. Frames keep their timestamps (so variable frame
rates survive), the audio track is passed through without re-encoding, and the output is
written to a temporary file that replaces OUT only when complete: an error or Ctrl-C leaves no
OUT. Packets that fail to decode are skipped and counted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from . import atomic
from .errors import InputError, RtstyleError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts")
WRITE_SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v")
_END = object()


class VideoError(InputError):
    """A video cannot be read or written."""


@dataclass(frozen=True)
class EncodeOptions:
    #: Video codec: libx264 (H.264, default), libx265, mpeg4, ...
    codec: str = "libx264"
    #: Constant rate factor for x264/x265 (lower = better; 18 is visually lossless).
    crf: int = 18
    #: x264/x265 speed preset.
    preset: str = "medium"
    #: Pass the audio track through unchanged.
    audio: bool = True


@dataclass
class VideoResult:
    output: Path
    frames: int = 0
    width: int = 0
    height: int = 0
    fps: float = 0.0
    seconds: float = 0.0
    audio_packets: int = 0
    skipped_packets: int = 0
    padded: bool = False
    #: Degrees of display rotation applied to the pixels (the output is upright, unflagged).
    rotated: int = 0
    interrupted: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    #: Frames the container declares for the part asked for (0 when it declares nothing).
    declared_frames: int = 0

    @property
    def fps_processed(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def incomplete(self) -> bool:
        """Fewer frames decoded than the file declares: truncated or damaged. Containers round
        their durations, so a frame or 2 % short is still complete."""
        return self.declared_frames > 0 and (
            self.frames < self.declared_frames - max(2, 0.02 * self.declared_frames))


@dataclass
class _Frame:
    image: np.ndarray
    pts: int | None
    time_base: Fraction


def probe(path: str | os.PathLike):
    """Open ``path`` and return (container, video stream, audio stream or None)."""
    import av

    path = Path(path)
    if not path.exists():
        raise VideoError(f"video not found: {path}")
    if path.is_dir():
        raise VideoError(f"expected a video file, got a folder: {path}")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as e:
        raise VideoError(f"cannot read {path}: not a video file ({e})") from e
    video = next((s for s in container.streams if s.type == "video"), None)
    if video is None:
        container.close()
        raise VideoError(f"{path} has no video stream")
    audio = next((s for s in container.streams if s.type == "audio"), None)
    return container, video, audio


def _frame_rate(stream) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return Fraction(rate)
    return Fraction(25)


def check_paths(src: str | os.PathLike | None, dst: str | os.PathLike) -> Path:
    """Check before any work that ``dst`` can be written and is not the input ``src``."""
    dst = atomic.check_output_path(dst)
    if dst.suffix.lower() not in WRITE_SUFFIXES:
        raise VideoError(f"cannot write '{dst.suffix or 'no extension'}' videos ({dst}); use one "
                         f"of {', '.join(WRITE_SUFFIXES)}")
    if src is not None and str(src):
        same = Path(src).resolve() == dst.resolve()
        if not same and Path(src).is_file() and dst.exists():
            same = os.path.samefile(src, dst)
        if same:
            raise VideoError(f"the output {dst} is the input: choose another file name")
    return dst


def stylize_video(src: str | os.PathLike, dst: str | os.PathLike,
                  process: Callable[[np.ndarray], np.ndarray], *,
                  options: EncodeOptions = EncodeOptions(), start: float = 0.0,
                  duration: float | None = None,
                  on_frame: Callable[[int, int], None] | None = None,
                  should_stop: Callable[[], bool] = lambda: False, batch: int = 1) -> VideoResult:
    """Stylize every frame of ``src`` with ``process`` (BGR uint8 -> BGR uint8) into ``dst``.

    ``on_frame(done, total_estimate)`` reports progress; ``should_stop()`` is polled between
    frames (a stop leaves no ``dst``). ``start``/``duration`` cut the video (seconds).
    ``batch`` frames go through the net together when ``process`` has a ``many`` method (a
    Stylizer): on a GPU that raises throughput; the output is the same.
    """
    if batch < 1:
        raise VideoError(f"batch must be at least 1, got {batch}")
    dst = check_paths(src, dst)
    if start < 0 or (duration is not None and duration <= 0):
        raise VideoError("--start must be >= 0 and --duration > 0")
    container, vstream, astream = probe(src)
    pipe = _Pipeline(container, vstream, astream if options.audio else None, options,
                     start, duration, dst)
    with atomic.atomic_path(dst) as tmp:
        pipe.run(tmp, process, batch, on_frame, should_stop)
        if pipe.errors:
            raise _wrap(pipe.errors[0], src, dst)
        if pipe.result.interrupted:
            raise KeyboardInterrupt
        if pipe.result.frames == 0:
            raise VideoError(f"no video frames could be decoded from {src}"
                             + (f" in the cut from {start} s" if start or duration else ""))
    return pipe.finish()



def declared_frames(container, vstream, rate: Fraction, duration: float | None) -> int:
    """How many frames the file says it has (in the first ``duration`` seconds); 0 if unsaid."""
    total = vstream.frames or 0
    if not total and vstream.duration and vstream.time_base:
        total = int(float(vstream.duration * vstream.time_base) * float(rate))
    if container.duration and not total:
        total = int(container.duration / 1e6 * float(rate))
    if duration is not None:
        cut = int(duration * float(rate))
        total = min(total, cut + 1) if total else cut
    return total


def upright(frame) -> tuple[np.ndarray, int]:
    """A decoded frame as BGR uint8 the way players show it (display rotation applied), and
    the rotation in degrees (phone videos carry one)."""
    image = frame.to_ndarray(format="bgr24")
    turn = int(round(getattr(frame, "rotation", 0) or 0)) % 360
    if turn:
        image = np.ascontiguousarray(np.rot90(image, k=turn // 90))
    return image, turn


def decode(container, vstream, astream=None, start: float = 0.0, end: float | None = None,
           on_skip: Callable[[Exception], None] | None = None):
    """Yield ``("video", frame)`` and ``("audio", packet)`` in file order from ``start`` to
    ``end`` seconds: the seek, multi-threaded decoding, the cut (audio packets that overlap it
    are kept; AAC's priming packet has pts < 0) and undecodable packets (skipped, reported to
    ``on_skip``)."""
    import av

    vstream.thread_type = "AUTO"
    if start > 0:
        container.seek(int(start / vstream.time_base), stream=vstream, backward=True)
    streams = [vstream] + ([astream] if astream is not None else [])
    for packet in container.demux(*streams):
        if astream is not None and packet.stream is astream:
            if packet.dts is not None and _overlaps(packet, start, end):
                yield "audio", packet
            continue
        try:
            frames = packet.decode()
        except av.error.FFmpegError as e:  # corrupt data: skip what cannot decode
            if on_skip:
                on_skip(e)
            continue
        for frame in frames:
            t = frame.time if frame.time is not None else 0.0
            if t < start - 1e-6:
                continue
            if end is not None and t >= end - 1e-6:
                return
            yield "video", frame


def _overlaps(packet, start: float, end: float | None) -> bool:
    t = float(packet.pts * packet.time_base) if packet.pts is not None else 0.0
    t_end = t + float((packet.duration or 0) * packet.time_base)
    return (start == 0 or t_end > start) and (end is None or t < end)


class _Pipeline:
    """One video's three threads: :meth:`read` decodes into ``decoded``, the calling thread
    stylizes (:meth:`stylize`) into ``styled``, :meth:`write` encodes and muxes. Bounded
    queues keep the order and the memory in check; ``stop`` and ``errors`` are how a thread
    that fails tells the others."""

    def __init__(self, container, vstream, astream, options: EncodeOptions, start: float,
                 duration: float | None, dst: Path):
        self.container, self.vstream, self.astream = container, vstream, astream
        self.options, self.start, self.duration = options, start, duration
        self.rate = _frame_rate(vstream)
        self.result = VideoResult(dst, fps=float(self.rate),
                                  declared_frames=declared_frames(container, vstream, self.rate,
                                                                  duration))
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.decoded: queue.Queue = queue.Queue(maxsize=8)
        self.styled: queue.Queue = queue.Queue(maxsize=8)
        self.timings = {"decode": 0.0, "inference": 0.0, "encode": 0.0}
        self.t_begin = time.perf_counter()

    def put(self, q: queue.Queue, item) -> bool:
        """Put unless the pipeline is stopping (False then)."""
        while not self.stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run(self, tmp: Path, process, batch: int, on_frame, should_stop) -> None:
        reader = threading.Thread(target=self.read, name="rtstyle-decode", daemon=True)
        writer = threading.Thread(target=self.write, args=(tmp,), name="rtstyle-encode",
                                  daemon=True)
        reader.start()
        writer.start()
        try:
            self.stylize(process, batch, on_frame, should_stop)
        finally:
            if self.result.interrupted or self.errors:
                self.stop.set()
            while writer.is_alive():  # let the writer flush (or stop) and close the file
                try:
                    self.styled.put((_END, None), timeout=0.1)
                    break
                except queue.Full:
                    continue
            writer.join()
            self.stop.set()
            reader.join(timeout=10)
            self.container.close()

    def read(self) -> None:
        end = None if self.duration is None else self.start + self.duration
        try:
            t0 = time.perf_counter()
            for kind, item in decode(self.container, self.vstream, self.astream, self.start,
                                     end, self._skipped):
                if self.stop.is_set():
                    return
                if kind == "video":
                    image, turn = upright(item)
                    self.result.rotated = turn or self.result.rotated
                    self.timings["decode"] += time.perf_counter() - t0
                    item = _Frame(image, item.pts, item.time_base)
                if not self.put(self.decoded, (kind, item)):
                    return
                t0 = time.perf_counter()
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            self.errors.append(e)
        finally:
            self.put(self.decoded, (_END, None))

    def _skipped(self, error: Exception) -> None:
        self.result.skipped_packets += 1
        log.info("skipped an undecodable packet: %s", error)

    def stylize(self, process, batch: int, on_frame, should_stop) -> None:
        """Take decoded items in order; video frames wait until ``batch`` of them are there."""
        many = getattr(process, "many", None) or (lambda imgs: [process(i) for i in imgs])
        pending: list = []
        while True:
            try:
                kind, item = self.decoded.get(timeout=0.1)
            except queue.Empty:
                if self.errors or self.stop.is_set():
                    return
                continue
            if kind is _END:
                self._flush(pending, many, on_frame)
                return
            if kind == "video" and should_stop():
                self.result.interrupted = True
                return
            pending.append((kind, item))
            videos = sum(1 for k, _ in pending if k == "video")
            if (videos >= batch or videos == 0) and not self._flush(pending, many, on_frame):
                return

    def _flush(self, pending: list, many, on_frame) -> bool:
        """Stylize the pending video frames together and pass everything on, in order."""
        videos = [k for k, (kind, _) in enumerate(pending) if kind == "video"]
        if videos:
            t0 = time.perf_counter()
            outs = many([pending[k][1].image for k in videos])
            self.timings["inference"] += time.perf_counter() - t0
            for k, out in zip(videos, outs):
                if self.result.frames == 0:
                    self.result.height, self.result.width = out.shape[:2]
                pending[k] = ("video", _Frame(out, pending[k][1].pts, pending[k][1].time_base))
                self.result.frames += 1
                if on_frame:
                    on_frame(self.result.frames, self.result.declared_frames)
        for entry in pending:
            if not self.put(self.styled, entry) or self.errors:
                return False
        pending.clear()
        return True

    def write(self, out_path: Path) -> None:
        import av

        output = None
        try:
            output = av.open(str(out_path), mode="w")
            self._encode_all(output)
        except BaseException as e:  # noqa: BLE001
            self.errors.append(e)
            self.stop.set()
            with contextlib.suppress(queue.Empty):  # unblock the main thread
                while True:
                    self.styled.get_nowait()
        finally:
            if output is not None:
                with contextlib.suppress(Exception):
                    output.close()

    def _encode_all(self, output) -> None:
        import av

        ovideo = oaudio = None
        pending_audio: list = []  # audio that arrives before the first video frame
        while True:
            kind, item = self.styled.get()
            if kind is _END:
                break
            if kind == "audio":
                if ovideo is None:  # the video stream comes first: wait for its first frame
                    pending_audio.append(item)
                else:
                    _mux_audio(output, oaudio, item, self.result)
                continue
            t0 = time.perf_counter()
            if ovideo is None:
                ovideo, oaudio = self._open_streams(output, item.image)
                for packet in pending_audio:
                    _mux_audio(output, oaudio, packet, self.result)
                pending_audio.clear()
            vf = av.VideoFrame.from_ndarray(_even(item.image), format="bgr24")
            vf.pts, vf.time_base = item.pts, item.time_base
            for packet in ovideo.encode(vf):
                output.mux(packet)
            self.timings["encode"] += time.perf_counter() - t0
        if ovideo is not None:
            for packet in ovideo.encode():  # flush the encoder
                output.mux(packet)

    def _open_streams(self, output, first: np.ndarray):
        h, w = first.shape[:2]
        ovideo = _video_stream(output, self.options, self.rate, self.vstream.time_base, w, h)
        oaudio = output.add_stream_from_template(self.astream) if self.astream is not None \
            else None
        return ovideo, oaudio

    def finish(self) -> VideoResult:
        r = self.result
        r.padded = bool(r.width % 2 or r.height % 2)
        r.seconds = time.perf_counter() - self.t_begin
        r.timings = {k: round(v, 3) for k, v in self.timings.items()}
        return r


def _even(image: np.ndarray) -> np.ndarray:
    """4:2:0 video needs even sizes: repeat the last row/column of an odd-sized frame."""
    h, w = image.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return image
    return np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def _video_stream(output, options: EncodeOptions, rate: Fraction, time_base, w: int, h: int):
    import av

    try:
        kind = av.codec.Codec(options.codec, "w").type
    except (av.error.FFmpegError, ValueError, TypeError) as e:
        raise VideoError(f"codec '{options.codec}' is not available in this PyAV build") from e
    if kind != "video":
        raise VideoError(f"codec '{options.codec}' is not a video codec (it is {kind})")
    try:
        stream = output.add_stream(options.codec, rate=rate)
    except (av.error.FFmpegError, ValueError, TypeError) as e:
        raise VideoError(f"codec '{options.codec}' is not available in this PyAV build") from e
    stream.width, stream.height = w + w % 2, h + h % 2
    stream.pix_fmt = "yuv420p"
    # Both time bases: the stream's for the muxer and the encoder's, or frame times get rounded
    # to 1/frame-rate and variable-rate frames collide.
    stream.time_base = time_base
    stream.codec_context.time_base = time_base
    if options.codec in ("libx264", "libx265"):
        stream.options = {"crf": str(options.crf), "preset": options.preset}
    return stream


def _mux_audio(output, stream, packet, result: VideoResult) -> None:
    packet.stream = stream
    output.mux(packet)
    result.audio_packets += 1


def _wrap(error: BaseException, src, dst) -> BaseException:
    import av

    if isinstance(error, RtstyleError | KeyboardInterrupt):
        return error
    if isinstance(error, av.error.FFmpegError | OSError):
        return VideoError(f"video processing failed ({src} -> {dst}): {error}")
    return error


def list_videos(folder: str | os.PathLike) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise VideoError(f"not a folder: {folder}")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())


class FrameWriter:
    """Writes frames as they come (live recording) to an MP4, atomically on close().

    Timestamps are the frames' wall-clock times in milliseconds, so the video plays at the
    speed it was recorded, however irregular. ``abort()`` leaves no file.
    """

    def __init__(self, path: str | os.PathLike, options: EncodeOptions = EncodeOptions(audio=False),
                 nominal_fps: float = 30.0):
        self.path = check_paths(None, path)
        self.options, self.fps = options, nominal_fps
        self._ctx = atomic.atomic_path(self.path)
        self._tmp = self._ctx.__enter__()
        self._out = None
        self._stream = None
        self._t0: float | None = None
        self._last_pts = -1
        self.frames = 0

    def write(self, image: np.ndarray, when: float | None = None) -> None:
        import av

        when = time.perf_counter() if when is None else when
        if self._out is None:
            h, w = image.shape[:2]
            self._out = av.open(str(self._tmp), mode="w", format=_format_for(self.path))
            self._stream = _video_stream(self._out, self.options,
                                         Fraction(self.fps).limit_denominator(1001),
                                         Fraction(1, 1000), w, h)
            self._t0 = when
        pts = max(self._last_pts + 1, int(round((when - self._t0) * 1000)))
        frame = av.VideoFrame.from_ndarray(_even(image), format="bgr24")
        frame.pts, frame.time_base = pts, Fraction(1, 1000)
        self._last_pts = pts
        for packet in self._stream.encode(frame):
            self._out.mux(packet)
        self.frames += 1

    def close(self) -> Path | None:
        """Flush and publish the file (None if no frame was written)."""
        if self._out is None:
            self._ctx.__exit__(VideoError, VideoError("no frames"), None)
            return None
        try:
            for packet in self._stream.encode():
                self._out.mux(packet)
            self._out.close()
        except BaseException as e:
            self._ctx.__exit__(type(e), e, e.__traceback__)
            raise
        self._ctx.__exit__(None, None, None)
        return self.path

    def abort(self) -> None:
        if self._out is not None:
            with contextlib.suppress(Exception):
                self._out.close()
        self._ctx.__exit__(KeyboardInterrupt, KeyboardInterrupt(), None)


def _format_for(path: Path) -> str:
    return {".mkv": "matroska", ".mov": "mov"}.get(path.suffix.lower(), "mp4")
