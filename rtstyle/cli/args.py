"""Argument parsing helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import sys

from ..styles import safe_name  # noqa: F401  (re-exported for the subcommands)


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``rtstyle gatys: error: ... (see rtstyle gatys --help)``."""

    def error(self, message: str):
        print(f"{self.prog}: error: {message} (see '{self.prog} --help')", file=sys.stderr)
        sys.exit(2)


def positive_int(text: str) -> int:
    try:
        value = int(float(text))
        if value != float(text):
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def nonneg_int(text: str) -> int:
    if text.strip() == "0":
        return 0
    return positive_int(text)


def nonneg_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    value = nonneg_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be > 0, got 0")
    return value


def name_list(text: str) -> tuple[str, ...]:
    items = tuple(p.strip() for p in text.split(",") if p.strip())
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def float_list(text: str) -> tuple[float, ...]:
    return tuple(nonneg_float(p) for p in name_list(text))


def level_list(text: str) -> tuple[int, ...]:
    """WCT levels: ``3`` or a chain ``3,2,1``."""
    try:
        levels = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected levels like 3 or 3,2,1, got '{text}'") \
            from None
    return levels  # the runtime checks the range (and names the graphs it lacks)


def add_json_flag(p: argparse.ArgumentParser, what: str = "one JSON record per output, a line "
                  "each, instead of the human-readable lines") -> None:
    """``--json``: machine-readable output on standard output (messages stay on stderr)."""
    p.add_argument("--json", action="store_true", help=what)


def add_common(p: argparse.ArgumentParser) -> None:
    """Flags every subcommand accepts (also after the subcommand name)."""
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show tracebacks on errors")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                   help="log more detail")
