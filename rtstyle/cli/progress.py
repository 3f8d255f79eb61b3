"""A tqdm progress bar that shows the latest losses; only the CLI draws progress."""

from __future__ import annotations

from tqdm import tqdm


class Progress:
    def __init__(self, total: int, desc: str, unit: str = "it", disable: bool = False):
        # disable=None lets tqdm switch itself off when stderr is not a terminal.
        self.bar = tqdm(total=total, desc=desc, unit=unit, disable=True if disable else None,
                        dynamic_ncols=True)

    def update(self, i: int, row: dict | None = None) -> None:
        if row:
            self.bar.set_postfix({k: f"{row[k]:.3g}" for k in ("content", "style", "tv", "total")
                                  if k in row}, refresh=False)
        self.bar.update(i - self.bar.n)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()
