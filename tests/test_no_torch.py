"""The runtime imports and works with torch made unimportable."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import importlib.abc, sys

    class BlockTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "torch" or name.startswith(("torch.", "torchvision")):
                raise ImportError("torch is blocked for this test")

    sys.meta_path.insert(0, BlockTorch())
    import numpy as np
    import rtstyle, rtstyle.frames, rtstyle.images, rtstyle.color, rtstyle.grid
    import rtstyle.config, rtstyle.report, rtstyle.atomic, rtstyle.cli, rtstyle.metadata
    import rtstyle.interrupts
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
    script = SCRIPT.split("import numpy")[0] + textwrap.dedent(f"""
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
