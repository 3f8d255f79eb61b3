"""bench/crop_sheet.py with two shipped nets on the bundled photo: crops at full resolution."""

import subprocess
import sys
from pathlib import Path

from rtstyle import images
from tests.helpers import ASSETS

ROOT = Path(__file__).resolve().parents[2]


def crop_sheet(*argv):
    return subprocess.run([sys.executable, str(ROOT / "bench" / "crop_sheet.py"), *map(str, argv)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_one_row_per_photo_one_column_per_net_and_the_photo(tmp_path):
    out = tmp_path / "crops.png"
    done = crop_sheet("--nets", f"starry={ROOT / 'models' / 'starry_night_lite'}",
                      f"wave={ROOT / 'models' / 'great_wave_hokusai_lite'}",
                      "--photos", f"{ASSETS / 'tubingen.jpg'}@10,20", "--size", "256",
                      "--crop", "64", "--out", out)
    assert done.returncode == 0, done.stderr[-3000:]
    sheet = images.read_image(out)
    assert sheet.shape[1] >= 3 * 64 and sheet.shape[0] >= 64
    photo = images.read_image(ASSETS / "tubingen.jpg", max_side=256)[10:74, 20:84]
    cell = sheet[:64, :64].astype(int)  # the first cell is the photo's crop itself
    assert abs(cell - photo.astype(int)).mean() < 3


def test_a_crop_outside_the_photo_is_a_one_line_error(tmp_path):
    done = crop_sheet("--nets", f"starry={ROOT / 'models' / 'starry_night_lite'}", "--photos",
                      f"{ASSETS / 'tubingen.jpg'}@200,0", "--size", "256", "--crop", "64",
                      "--out", tmp_path / "x.png")
    assert done.returncode == 1 and "leaves" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.png").exists()
