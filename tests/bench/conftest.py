"""Fixtures for the benchmark tests: a randomly initialised tiny net (exported, no training)
and untrained level-1 WCT real-time graphs, made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_net(tmp_path_factory) -> Path:
    """A model folder (safetensors + model.onnx) of the tiny net, randomly initialised."""
    from rtstyle.bench.nets import export_random

    return export_random("tiny", tmp_path_factory.mktemp("bench_nets") / "tiny")


@pytest.fixture(scope="session")
def tiny_wct(tmp_path_factory) -> Path:
    """A WCT folder with the untrained level-2 decoder and its real-time graphs (int8 too)."""
    from rtstyle.train.wct import export as wct_export
    from tests.helpers import make_wct_root

    root = make_wct_root(tmp_path_factory.mktemp("bench_wct"), levels=(2,), export=())
    wct_export.export_wct(root / "wct" / "level2", sizes=((48, 64),), int8=True)
    return root / "wct" / "level2"
