"""Shared fixtures. Tests never reach the network: every socket connection fails."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "rtstyle" / "assets"


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


@pytest.fixture(scope="session")
def content_path() -> Path:
    return ASSETS / "tubingen.jpg"


@pytest.fixture(scope="session")
def style_path() -> Path:
    return ASSETS / "starry_night_van_gogh.jpg"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def pytest_configure(config):
    try:
        import torch

        torch.set_num_threads(2)
    except ImportError:
        pass
