"""Everything in rtstyle that needs PyTorch: loss networks, losses, Gatys, training.

Install with ``pip install 'rtstyle[train]'``. The runtime (``rtstyle`` outside this subpackage)
never imports this package at module level.
"""

from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised by the torch-free import test
    from ..errors import DependencyError

    raise DependencyError(
        "this needs PyTorch: install the training extra, e.g. pip install 'rtstyle[train]'"
    ) from e
