"""Live sources (rtstyle.sources): the newest-frame reader, sizes, and what a source that cannot
be read says."""

from __future__ import annotations

import time

import pytest

from rtstyle.sources import LatestFrame, Source, SourceError, parse_size
from tests.helpers import make_audio_only, make_clip


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("sources")
    return {"clip": make_clip(d / "clip.mp4", frames=60, size=(160, 120), fps=30, audio=False)}


def test_latest_frame_drops_old_frames_when_the_consumer_is_slow(media):
    frames = LatestFrame(Source(str(media["clip"])))
    got = []
    try:
        for _ in range(5):
            f = frames.get(timeout=2)
            if f is not None:
                got.append(f.index)
            time.sleep(0.15)  # slower than the clip's 30 fps
    finally:
        frames.close()
    assert got == sorted(got) and len(set(got)) == len(got)
    assert frames.dropped >= 5  # about 4 frames arrive per 0.15 s, only the newest is taken
    assert got[-1] - got[0] >= 8


def test_parse_size_and_unknown_sources():
    assert parse_size("1280x720") == (1280, 720)
    assert parse_size(None) is None
    with pytest.raises(Exception, match="1280x720"):
        parse_size("wide")
    with pytest.raises(SourceError, match="not a camera index"):
        Source("no/such/file.mp4")


def test_an_audio_only_source_says_it_has_no_picture(media, tmp_path):
    sound = make_audio_only(tmp_path / "talk.m4a")
    with pytest.raises(SourceError, match="has sound but no picture"):
        Source(str(sound))
