"""rtstyle: real-time neural style transfer.

The runtime (this package outside ``rtstyle.train``) needs numpy, OpenCV, PyAV and ONNX Runtime
only; everything that needs PyTorch lives in :mod:`rtstyle.train`.
"""

__version__ = "0.1.0"

__all__ = ["StyleTransfer", "__version__", "stylize"]


def __getattr__(name: str):
    # Lazy, so that ``import rtstyle`` stays cheap (no ONNX Runtime session machinery).
    if name in ("StyleTransfer", "stylize"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'rtstyle' has no attribute '{name}'")
