"""``rtstyle demo``: the bundled clip through the bundled style, an MP4 and a contact sheet."""

from __future__ import annotations

import av
import cv2

from rtstyle import assets
from rtstyle.cli import main


def frames(path):
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]


def test_demo_writes_a_video_and_a_contact_sheet(tmp_path, capsys):
    assert main(["demo", "--out-dir", str(tmp_path), "--backend", "ort-cpu"]) == 0
    out = capsys.readouterr().out
    video = tmp_path / f"sample_clip_{assets.DEMO_MODEL}.mp4"
    sheet = tmp_path / f"sample_clip_{assets.DEMO_MODEL}_sheet.png"
    assert str(video.resolve()) in out and str(sheet.resolve()) in out
    original, styled = frames(assets.path(assets.DEMO_CLIP)), frames(video)
    assert len(styled) == len(original) == 120
    assert styled[0].shape == original[0].shape
    assert abs(styled[60].astype(int) - original[60]).mean() > 20  # visibly stylised
    img = cv2.imread(str(sheet))
    assert img is not None and img.shape[1] > 4 * 240


def test_demo_with_an_unknown_style_is_a_one_line_error(tmp_path, capsys):
    assert main(["demo", "--out-dir", str(tmp_path), "--style", "no_such_style"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no_such_style" in err[0] and "starry_night_lite" in err[0]
    assert not list(tmp_path.glob("*.mp4"))
