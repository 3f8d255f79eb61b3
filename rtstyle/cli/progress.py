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


class TrainingBar:
    """tqdm progress: step, images/s, ETA and the latest losses."""

    def __init__(self, disable: bool):
        self.disable = disable
        self.bar = None

    def update(self, step: int, total: int, row: dict) -> None:
        if self.disable:
            return
        if self.bar is None:
            self.bar = tqdm(total=total, initial=step - 1, desc="train", unit="step",
                            dynamic_ncols=True)
        terms = "  ".join(f"{k} {v:.3g}" for k, v in row.items()
                          if k not in ("step", "images_per_s", "seconds"))
        self.bar.set_postfix_str(f"{row['images_per_s']:.1f} img/s  {terms}", refresh=False)
        self.bar.update(step - self.bar.n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
