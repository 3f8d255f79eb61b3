"""Typed errors raised by the library.

The library never prints or exits: it raises one of these with a message a user can act on.
The CLI (``rtstyle.cli``) is the one boundary that turns them into ``rtstyle: error: ...`` and an
exit status.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class RtstyleError(Exception):
    """Base class of every error rtstyle raises on purpose."""


class InputError(RtstyleError):
    """Something the user gave us (a file, a value, a flag) cannot be used."""


class ImageError(InputError):
    """An image file is missing, unreadable, corrupt or of a kind we refuse."""


class ConfigError(InputError):
    """A setting is out of range, unknown, or inconsistent with another."""


class WeightsError(RtstyleError):
    """Weights for a network are missing or do not match the network."""


class DependencyError(RtstyleError):
    """An optional dependency (an install extra) is missing."""


def suggest(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown(kind: str, name: str, choices: Iterable[str]) -> ConfigError:
    """A ConfigError for an unknown name, with the closest match and the valid choices."""
    choices = list(choices)
    listed = ", ".join(choices) if len(choices) <= 12 else ", ".join(choices[:12]) + ", ..."
    return ConfigError(f"unknown {kind} '{name}'{suggest(name, choices)}; choose from: {listed}")
