"""Live frame sources for the webcam loop: cameras, video files played as if live, streams.

:class:`LatestFrame` reads a source in its own thread and keeps only the newest frame (with its
capture time), so latency never grows when stylising is slower than the camera; frames that
were replaced before anyone took them are counted as dropped.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError

log = logging.getLogger(__name__)


class SourceError(InputError):
    """A source cannot be opened, or stopped delivering frames."""


def video_devices() -> list[str]:
    return sorted(glob.glob("/dev/video*"))


def parse_size(text: str | None) -> tuple[int, int] | None:
    """'1280x720' -> (1280, 720)."""
    if not text:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"size must look like 1280x720, got '{text}'") from None
    if w < 16 or h < 16:
        raise InputError(f"size must be at least 16x16, got '{text}'")
    return w, h


@dataclass
class Frame:
    image: np.ndarray
    captured: float  # time.perf_counter() when the frame was read
    index: int


class Source:
    """One OpenCV capture: a camera index, a device path, a file (paced, optional loop) or URL."""

    def __init__(self, spec: str, size: tuple[int, int] | None = None, fps: float | None = None,
                 loop: bool = False):
        self.spec, self.loop = str(spec), loop
        self.is_file = Path(self.spec).is_file()
        self.is_camera = self.spec.isdigit() or self.spec.startswith("/dev/video")
        if not (self.is_file or self.is_camera or "://" in self.spec):
            raise SourceError(f"source '{spec}' is not a camera index, a /dev/video device, an "
                              f"existing video file or a stream URL{_devices_hint()}")
        target = int(self.spec) if self.spec.isdigit() else self.spec
        with _quiet_opencv():  # failed opens print multi-line warnings; we say it in one line
            self.cap = cv2.VideoCapture(target)
        if not self.cap.isOpened():
            self.cap.release()
            if self.is_file and _audio_only(self.spec):
                raise SourceError(f"source '{spec}' has sound but no picture (an audio-only "
                                  "file): give a video file or a camera")
            what = "camera" if self.is_camera else "video" if self.is_file else "stream"
            raise SourceError(f"cannot open {what} '{spec}'{_devices_hint()}")
        if size and not self.is_file:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        if fps and not self.is_file:
            self.cap.set(cv2.CAP_PROP_FPS, fps)
        self.fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 0) or (fps or 30.0)
        self.size = (int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                     int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        if size and self.size != tuple(size) and not self.is_file:
            log.warning("asked for %dx%d, the camera gives %dx%d", *size, *self.size)
        self._next = None

    def describe(self) -> str:
        return f"{self.spec} ({self.size[0]}x{self.size[1]} at {self.fps:.3g} fps)"

    def read(self) -> np.ndarray | None:
        """The next frame; a file is paced at its own frame rate. None at the end / on failure."""
        ok, frame = self.cap.read()
        if not ok and self.is_file and self.loop:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.cap.read()
        if not ok:
            return None
        if self.is_file:
            now = time.perf_counter()
            if self._next is not None and self._next > now:
                time.sleep(self._next - now)
            self._next = max(now, self._next or now) + 1.0 / self.fps
        return frame

    def release(self) -> None:
        self.cap.release()


@contextlib.contextmanager
def _quiet_opencv():
    logging_ = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_ is None:
        yield
        return
    previous = logging_.getLogLevel()
    logging_.setLogLevel(logging_.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging_.setLogLevel(previous)


def _audio_only(path: str) -> bool:
    """The file has an audio stream and no video stream (False if PyAV cannot read it)."""
    import av

    try:
        with av.open(path) as container:
            return bool(container.streams.audio) and not container.streams.video
    except (av.FFmpegError, OSError):
        return False


def _devices_hint() -> str:
    found = video_devices()
    return f"; video devices found: {', '.join(found)}" if found else "; no video devices found"


class LatestFrame:
    """Reads a source in a thread and hands out only the newest frame."""

    def __init__(self, source: Source):
        self.source = source
        self._lock = threading.Condition()
        self._frame: Frame | None = None
        self._taken = True
        self.read_count = 0
        self.dropped = 0
        self.ended = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rtstyle-capture", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            image = self.source.read()
            with self._lock:
                if image is None:
                    self.ended = True
                    self._lock.notify_all()
                    return
                self.read_count += 1
                if not self._taken:
                    self.dropped += 1
                self._frame = Frame(image, time.perf_counter(), self.read_count)
                self._taken = False
                self._lock.notify_all()

    def get(self, timeout: float = 1.0) -> Frame | None:
        """The newest frame not handed out yet (waits up to ``timeout``); None if none came."""
        with self._lock:
            if self._taken and not self.ended:
                self._lock.wait(timeout)
            if self._taken or self._frame is None:
                return None
            self._taken = True
            return self._frame

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.source.release()
