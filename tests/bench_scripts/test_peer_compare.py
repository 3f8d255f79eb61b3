"""bench/peer_compare.py on a tiny exported style, with a stand-in for the peer's executable
(styletransfer-lite is not a dependency: the stand-in speaks its command line and JSON)."""

import json
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import pytest

pytest.importorskip("torch")

from tests.helpers import ASSETS  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

PEER = textwrap.dedent(f"""\
    #!{sys.executable}
    # stylize PHOTO --style-image P -o OUT --max-size N --device cpu --json: a blurred photo
    import json, sys, cv2
    a = sys.argv
    img = cv2.imread(a[2])
    n = int(a[a.index("--max-size") + 1])
    s = n / max(img.shape[:2])
    img = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)))
    cv2.imwrite(a[a.index("-o") + 1], cv2.GaussianBlur(img, (5, 5), 0))
    print(json.dumps({{"seconds": 0.25}}))
""")


def test_peer_compare_scores_both_tools_under_one_loss(models, tmp_path):
    peer = tmp_path / "peer"
    peer.write_text(PEER)
    peer.chmod(peer.stat().st_mode | stat.S_IEXEC)
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), cv2.resize(cv2.imread(str(ASSETS / "tubingen.jpg")), (48, 36)))
    out = tmp_path / "cmp"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "peer_compare.py"), "--peer", str(peer),
         "--models", str(models["starry"]), str(models["bright"]), "--photos", str(photo),
         "--size", "48", "--repeats", "1", "--measure-with", str(models["starry"]),
         "--sheet", str(tmp_path / "all.jpg"), "--cell", "48", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.with_suffix(".json").read_text())
    rows = report["results"]
    assert [r["style"] for r in rows] == ["starry", "bright"]
    assert report["measured_with"] == str(models["starry"])
    for r in rows:
        assert r["size"] == [36, 48] and r["peer"]["seconds"] == 0.25
        assert r["ours"]["style"] > 0 and r["peer"]["content"] > 0
    # one loss judges both: the peer's (identical) output gets the same numbers for both styles
    assert rows[0]["peer"] == rows[1]["peer"]
    assert "under the loss of" in out.with_suffix(".md").read_text()
    for name in ("starry", "bright"):
        assert (tmp_path / f"cmp_{name}.jpg").is_file()
    sheet = cv2.imread(str(tmp_path / "all.jpg"))
    assert sheet.shape[1] == 4 * 48 + 3 * 4  # photo, two models, the peer
