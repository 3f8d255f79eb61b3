"""rtstyle: real-time neural style transfer.

The runtime (this package outside ``rtstyle.train``) needs numpy, OpenCV, PyAV and ONNX Runtime
only; everything that needs PyTorch lives in :mod:`rtstyle.train`.
"""

__version__ = "0.1.0"
