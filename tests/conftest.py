"""Shared fixtures. Tests never reach the network: every socket connection fails."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from rtstyle import assets, images

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "rtstyle" / "assets"

# Photo caches that training tests build go to a folder of their own (inherited by the
# subprocesses tests start), never into the user's ~/.cache.
_CACHE = tempfile.mkdtemp(prefix="rtstyle-test-cache-")
os.environ["RTSTYLE_CACHE_DIR"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Internet sockets fail; Unix sockets (multiprocessing, DataLoader workers) still work."""
    connect = socket.socket.connect

    def guarded(self, address, *args, **kwargs):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError("network access is disabled in tests")
        return connect(self, address, *args, **kwargs)

    def refuse(*args, **kwargs):
        raise OSError("network access is disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def no_user_styles(tmp_path, monkeypatch):
    """Only the styles a test installs: an empty $RTSTYLE_MODELS and user data folder."""
    (tmp_path / "no-styles").mkdir()
    monkeypatch.setenv("RTSTYLE_MODELS", str(tmp_path / "no-styles"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.fixture
def only_named_styles(no_user_styles, monkeypatch):
    """Only the styles a test names: no user styles and not the shipped ones either."""
    monkeypatch.setenv("RTSTYLE_NO_SHIPPED_STYLES", "1")


@pytest.fixture(scope="session")
def held_out(tmp_path_factory) -> Path:
    """Two held-out photos of odd sizes: alpha.png (41x57) and beta.jpg (53x39)."""
    d = tmp_path_factory.mktemp("held_out")
    photo = images.read_image(assets.path(assets.DEMO_CONTENT))
    cv2.imwrite(str(d / "alpha.png"), photo[:41, :57])
    cv2.imwrite(str(d / "beta.jpg"), photo[-53:, -39:])
    return d


@pytest.fixture(scope="session")
def content_path() -> Path:
    return ASSETS / "tubingen.jpg"


@pytest.fixture(scope="session")
def style_path() -> Path:
    return ASSETS / "starry_night_van_gogh.jpg"


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> Path:
    """A small folder of real and synthetic photos, in sub-folders (tests/helpers.make_photos)."""
    from tests.helpers import make_photos

    return make_photos(tmp_path_factory.mktemp("photos"))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, photos) -> Path:
    """A run folder of the tiny net trained for 3 steps (once per session)."""
    import contextlib
    import io

    from rtstyle.cli import main
    from tests.helpers import STYLE, TINY

    run = tmp_path_factory.mktemp("tiny_run") / "run"
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["train", "--style", str(STYLE), "--data", str(photos), "--out", str(run),
                     "--steps", "3", *TINY])
    assert code == 0, err.getvalue()
    return run


@pytest.fixture(scope="session")
def tiny_model(tiny_run) -> Path:
    """The model folder of :func:`tiny_run` (shared: copy it with ``model_copy`` to change it)."""
    return tiny_run / "model"


@pytest.fixture
def model_copy(tiny_model, tmp_path) -> Path:
    """A private copy of the tiny model folder, to export into or to break."""
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(tiny_model, copy)
    return copy


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    """Two tiny exported styles, 'starry' and 'bright' (see tests/helpers.build_styles)."""
    from tests.helpers import build_styles

    return build_styles(tmp_path_factory.getbasetemp() / "rtstyle_tiny_styles")


@pytest.fixture(scope="session")
def engine(models):
    """One ONNX Runtime CPU Stylizer on the tiny styles, shared by the engine tests (reset
    before each test by :func:`st`)."""
    from rtstyle.stylizer import Stylizer

    return Stylizer(models, backend="ort-cpu", warm_up=None)


@pytest.fixture
def st(engine):
    """The shared Stylizer back on style 'starry', default controls, nothing remembered."""
    from rtstyle.stylizer import Controls

    engine.use("starry")
    engine.set_controls(Controls())
    engine.reset()
    return engine


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def pytest_configure(config):
    try:
        import torch

        torch.set_num_threads(2)
    except ImportError:
        pass


@pytest.fixture(scope="session")
def wct_root(tmp_path_factory) -> Path:
    """Untrained WCT decoders for levels 1..3 and the real-time graphs of levels 1 and 2
    (tests/helpers.make_wct_root); shared, copy it to change it."""
    from tests.helpers import make_wct_root

    return make_wct_root(tmp_path_factory.mktemp("wct_models"))


@pytest.fixture(scope="session")
def multi_model(tmp_path_factory, photos) -> Path:
    """An exported tiny multi-style model folder with the styles 'starry' and 'negative'
    (2 steps; see tests/train/test_multistyle.py), inside a models root of its own:
    ``multi_model.parent`` can be $RTSTYLE_MODELS."""
    from dataclasses import replace

    from rtstyle.train import export, multistyle
    from tests.train.test_multistyle import CFG, paintings

    root = tmp_path_factory.mktemp("multi_models")
    run = tmp_path_factory.mktemp("multi_model_run") / "run"
    multistyle.train(replace(CFG, steps=2), run, paintings(), photos)
    export.export(run / "model")
    import shutil

    shutil.copytree(run / "model", root / "two_styles_tiny")
    return root / "two_styles_tiny"
