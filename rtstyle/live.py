"""The live filter: newest frame -> Stylizer -> OpenCV window (or a file when headless).

Keys: ``n``/``p`` next/previous style (between styles of one multi-style net, a smooth morph
over about half a second), ``1``-``9`` a style directly, ``+``/``-`` strength,
``c`` preserve colour, ``b`` blend with the next style, ``t`` stabilise on/off (flow-guided
blending of the previous frame, :mod:`rtstyle.stabilize`), ``s`` split view (original | stylised),
``r`` start/stop recording, space: screenshot, ``f`` fullscreen, ``h`` overlay, ``q``/Esc quit.
Closing the window, Ctrl-C or SIGTERM also quit cleanly: the camera is released and a recording
in progress is finalised.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from . import images
from .multistyle import Morph, morph_between
from .sources import LatestFrame, SourceError
from .stabilize import DEFAULT_WEIGHT
from .stylizer import Stylizer
from .video import FrameWriter

log = logging.getLogger(__name__)

WINDOW = "rtstyle"
HELP = "n/p style  1-9 pick  +/- strength  c colour  b blend  t steady  s split  r rec  space shot  f full  h help  q quit"


@dataclass
class LiveState:
    overlay: bool = True
    split: bool = False
    fullscreen: bool = False
    quit: bool = False
    blend: bool = False
    #: What ``t`` switches stabilisation to (the --stabilize value, or the default).
    stabilize: float = DEFAULT_WEIGHT
    #: A style change in progress between styles of one multi-style net.
    morph: Morph | None = None
    #: Frames a morph takes.
    morph_frames: int = 12


@dataclass
class LiveStats:
    frames: int = 0
    dropped: int = 0
    seconds: float = 0.0
    latency_ms: list[float] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)
    recordings: list[Path] = field(default_factory=list)
    ended_by: str = ""

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def handle_key(key: int, state: LiveState, st: Stylizer) -> str | None:
    """Apply one key press to the state and the stylizer; returns an action for the loop
    ('record', 'screenshot', 'fullscreen') or None."""
    if key < 0:
        return None
    ch = chr(key & 0xFF)
    names = st.names
    i = names.index(st.style)
    c = st.controls
    before = st.style
    if ch in ("q", "\x1b"):
        state.quit = True
    elif ch == "n":
        st.use(names[(i + 1) % len(names)])
    elif ch == "p":
        st.use(names[(i - 1) % len(names)])
    elif ch.isdigit() and ch != "0" and int(ch) <= len(names):
        st.use(names[int(ch) - 1])
    elif ch in ("+", "="):
        st.set_controls(replace(c, strength=round(min(1.0, c.strength + 0.1), 2)))
    elif ch in ("-", "_"):
        st.set_controls(replace(c, strength=round(max(0.0, c.strength - 0.1), 2)))
    elif ch == "c":
        st.set_controls(replace(c, preserve_color=not c.preserve_color))
    elif ch == "t":
        if c.stabilize > 0:
            state.stabilize = c.stabilize
        st.set_controls(replace(c, stabilize=0.0 if c.stabilize > 0 else state.stabilize))
    elif ch == "b":
        state.blend = not state.blend and len(names) > 1
    elif ch == "s":
        state.split = not state.split
    elif ch == "h":
        state.overlay = not state.overlay
    elif ch == "r":
        return "record"
    elif ch == " ":
        return "screenshot"
    elif ch == "f":
        state.fullscreen = not state.fullscreen
        return "fullscreen"
    if st.style != before:
        if state.morph is not None:
            state.morph.stop()
        state.morph = morph_between(st.models[before], st.models[st.style], state.morph_frames)
    if state.blend and len(names) > 1:  # blend with the style after the current one
        partner = names[(names.index(st.style) + 1) % len(names)]
        st.set_controls(replace(st.controls, blend=partner))
    elif st.controls.blend is not None:
        st.set_controls(replace(st.controls, blend=None))
    return None


def compose(original: np.ndarray, styled: np.ndarray, split: bool) -> np.ndarray:
    """The displayed image: stylised, or original | stylised side by side at the same size."""
    if not split:
        return styled
    out = styled.copy()
    w = out.shape[1] // 2
    out[:, :w] = original[:, :w]
    cv2.line(out, (w, 0), (w, out.shape[0] - 1), (255, 255, 255), 2)
    return out


def draw_overlay(img: np.ndarray, lines: list[str]) -> np.ndarray:
    """Text on a dark translucent box at the top left (drawn in place on a copy)."""
    out = img.copy()
    scale = max(0.4, min(0.7, img.shape[1] / 1400))
    line_h = int(28 * scale / 0.6)
    width = max(cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] for t in lines) + 16
    height = line_h * len(lines) + 10
    box = out[:height, :width]
    box[:] = (box * 0.35).astype(np.uint8)
    for k, text in enumerate(lines):
        cv2.putText(out, text, (8, line_h * (k + 1)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), 1, cv2.LINE_AA)
    return out


class LiveLoop:
    """Runs the filter until quit, the end of a (non-looping) file source, or a stop request."""

    def __init__(self, stylizer: Stylizer, frames: LatestFrame, *, window: bool = True,
                 output: str | None = None, shots_dir: str = "out/screenshots",
                 record_dir: str = "out/recordings", backend_label: str = "",
                 key_source: Callable[[int], int] | None = None, max_frames: int | None = None,
                 fullscreen: bool = False, writer: FrameWriter | None = None):
        self.st, self.frames = stylizer, frames
        self.window, self.output = window, output
        self.shots_dir, self.record_dir = Path(shots_dir), Path(record_dir)
        self.backend_label = backend_label or stylizer.describe()
        self.key_source = key_source or cv2.waitKey
        self.max_frames = max_frames
        self.state = LiveState(fullscreen=fullscreen)
        self.stats = LiveStats()
        self.recorder: FrameWriter | None = None
        #: An output writer owned by the caller (kept open across reconnects), else our own.
        self.writer = writer
        self._fps = 0.0

    def _overlay_lines(self, latency_ms: float) -> list[str]:
        c = self.st.controls
        flags = [f"strength {c.strength:.1f}"] + (["colour kept"] if c.preserve_color else []) \
            + ([f"blend {c.blend}"] if c.blend else []) \
            + ([f"steady {c.stabilize:.1f}"] if c.stabilize else []) \
            + (["split"] if self.state.split else []) \
            + (["REC"] if self.recorder else [])
        return [f"{self.st.style}  [{self.backend_label}]",
                f"{self._fps:.1f} fps  latency {latency_ms:.0f} ms  dropped {self.frames.dropped}",
                "  ".join(flags), HELP]

    def _toggle_recording(self) -> None:
        if self.recorder is None:
            self.record_dir.mkdir(parents=True, exist_ok=True)
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            self.recorder = FrameWriter(self.record_dir / f"rtstyle-{stamp}.mp4")
            log.info("recording to %s", self.recorder.path)
        else:
            self._finish_recording()

    def _finish_recording(self) -> None:
        if self.recorder is not None:
            path = self.recorder.close()
            if path:
                self.stats.recordings.append(path)
            self.recorder = None

    def _screenshot(self, shown: np.ndarray) -> None:
        self.shots_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        path = images.write_image(self.shots_dir / f"rtstyle-{stamp}.png", shown)
        self.stats.screenshots.append(path)

    def run(self, should_stop: Callable[[], bool] = lambda: False) -> LiveStats:
        own_writer = self.writer is None and bool(self.output)
        out_writer = FrameWriter(self.output) if own_writer else self.writer
        start = time.perf_counter()
        if self.window:
            cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO)
            if self.state.fullscreen:
                cv2.setWindowProperty(WINDOW, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)
        ok = False
        try:
            while not self.state.quit:
                if should_stop():
                    self.stats.ended_by = "signal"
                    break
                frame = self.frames.get(timeout=0.5)
                if frame is None:
                    if self.frames.ended:
                        self.stats.ended_by = "end of source"
                        break
                    if self.window:
                        self._handle(self.key_source(1), None)
                    continue
                if self.state.morph is not None and self.state.morph.step():
                    self.state.morph = None
                styled = self.st(frame.image)
                shown = compose(frame.image, styled, self.state.split)
                now = time.perf_counter()
                latency = (now - frame.captured) * 1000
                self.stats.latency_ms.append(latency)
                self.stats.frames += 1
                elapsed = now - start
                self._fps = self.stats.frames / elapsed if elapsed > 0 else 0.0
                if self.state.overlay and self.window:
                    shown = draw_overlay(shown, self._overlay_lines(latency))
                if out_writer is not None:
                    out_writer.write(shown, frame.captured)
                if self.recorder is not None:
                    self.recorder.write(shown, frame.captured)
                if self.window:
                    cv2.imshow(WINDOW, shown)
                    self._handle(self.key_source(1), shown)
                    if self.state.quit:
                        self.stats.ended_by = "key"
                    elif cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
                        self.stats.ended_by = "window closed"
                        break
                if self.max_frames and self.stats.frames >= self.max_frames:
                    self.stats.ended_by = "frame limit"
                    break
            ok = True
        finally:
            self.stats.seconds = time.perf_counter() - start
            self.stats.dropped = self.frames.dropped
            self.frames.close()
            self._finish_recording()  # a recording is kept on every exit: it is playable
            if out_writer is not None and own_writer:
                if ok or out_writer.frames:
                    path = out_writer.close()
                    if path:
                        self.stats.recordings.append(path)
                else:
                    out_writer.abort()
            if self.window:
                cv2.destroyAllWindows()
                cv2.waitKey(1)
        return self.stats

    def _handle(self, key: int, shown: np.ndarray | None) -> None:
        action = handle_key(key, self.state, self.st)
        if action == "record":
            self._toggle_recording()
        elif action == "screenshot" and shown is not None:
            self._screenshot(shown)
        elif action == "fullscreen" and self.window:
            cv2.setWindowProperty(WINDOW, cv2.WND_PROP_FULLSCREEN,
                                  cv2.WINDOW_FULLSCREEN if self.state.fullscreen
                                  else cv2.WINDOW_NORMAL)


def check_display() -> None:
    """A clear error when there is no display for the window."""
    import os
    import sys

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        raise SourceError("no display for the window (DISPLAY is not set); use --headless "
                          "--output out.mp4, or run under a desktop session or xvfb-run")
