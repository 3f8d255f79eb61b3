"""The runtime imports and works with torch made unimportable."""

import subprocess
import sys
import textwrap

from tests.helpers import BLOCK_TORCH

SCRIPT = BLOCK_TORCH + textwrap.dedent("""
    import numpy as np
    import rtstyle, rtstyle.frames, rtstyle.images, rtstyle.color, rtstyle.grid
    import rtstyle.config, rtstyle.report, rtstyle.atomic, rtstyle.cli, rtstyle.metadata
    import rtstyle.interrupts, rtstyle.api, rtstyle.styles, rtstyle.zoo, rtstyle.flow
    from rtstyle import StyleTransfer, stylize
    frame = np.zeros((8, 8, 3), np.uint8)
    assert rtstyle.frames.from_model_output(rtstyle.frames.to_model_input(frame)).shape == (8, 8, 3)
    parser = rtstyle.cli.build_parser()
    assert "torch" not in sys.modules, "runtime imported torch"
    from rtstyle.errors import DependencyError
    try:
        import rtstyle.train
    except DependencyError as e:
        print("ok:", e)
    else:
        raise SystemExit("rtstyle.train imported without torch")
""")


def test_runtime_imports_without_torch():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ok: this needs PyTorch" in out.stdout


def test_gatys_without_torch_is_a_one_line_error(tmp_path, content_path, style_path):
    script = BLOCK_TORCH + textwrap.dedent(f"""
        from rtstyle.cli import main
        sys.exit(main(["gatys", "--content", {str(content_path)!r}, "--style",
                       {str(style_path)!r}, "--output", {str(tmp_path / 'o.png')!r}]))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "rtstyle: error: this needs PyTorch: install the training extra, e.g. "
        "pip install 'rtstyle[train]'"]
    assert not (tmp_path / "o.png").exists()


def test_engine_runs_an_exported_model_without_torch(tmp_path, content_path, style_path):
    """Export with torch here, then stylise in a process where torch cannot be imported."""
    import cv2
    import numpy as np

    from rtstyle.cli import main

    data = tmp_path / "data"
    data.mkdir()
    photo = cv2.imread(str(content_path))
    for i in range(3):
        cv2.imwrite(str(data / f"p{i}.png"), photo[i * 20:i * 20 + 96, i * 30:i * 30 + 128])
    run = tmp_path / "run"
    assert main(["train", "--style", str(style_path), "--data", str(data), "--out", str(run),
                 "--net", "tiny", "--image-size", "32", "--batch-size", "2", "--steps", "2",
                 "--workers", "0", "--device", "cpu", "--preview-every", "0", "--quiet"]) == 0
    assert main(["export", "--model", str(run / "model")]) == 0
    out = tmp_path / "out"
    script = BLOCK_TORCH + textwrap.dedent(f"""
        import numpy as np
        from rtstyle.stylizer import Stylizer
        from rtstyle.cli import main
        st = Stylizer([{str(run / 'model')!r}], backend="auto")
        frame = np.random.default_rng(0).integers(0, 256, (45, 67, 3), dtype=np.uint8)
        styled = st(frame)
        assert styled.shape == frame.shape and styled.dtype == np.uint8
        assert not np.array_equal(styled, frame)
        code = main(["image", {str(content_path)!r}, "--style", {str(run / 'model')!r},
                     "--out", {str(out)!r}, "--quiet"])
        assert "torch" not in sys.modules, "the runtime imported torch"
        print("ran on", st.describe())
        sys.exit(code)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ran on ort-cpu" in done.stdout
    written = list(out.glob("tubingen_*.jpg"))
    assert len(written) == 1
    assert cv2.imread(str(written[0])).shape == photo.shape
    assert np.abs(cv2.imread(str(written[0])).astype(int) - photo).mean() > 1
