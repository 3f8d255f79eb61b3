"""Frozen-dataclass configuration: named presets in TOML and typed ``key=value`` overrides.

A config is a frozen dataclass whose defaults document themselves; nested dataclasses are
addressed with dotted keys (``loss.style_weight``). Values are coerced to the field's type and
unknown keys are rejected with the closest valid name.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError, unknown

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _coerce(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None or (isinstance(value, str) and value.lower() in ("none", "")):
            if type(None) in args:
                return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: cannot use {value!r}")
    if origin is tuple:
        (item_tp, *_) = typing.get_args(tp)
        if isinstance(value, str):
            value = [v for v in (p.strip() for p in value.split(",")) if v]
        if not isinstance(value, Sequence):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return tuple(_coerce(item_tp, v, key) for v in value)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a table of settings, got {value!r}")
        return from_dict(tp, value, prefix=f"{key}.")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        try:
            number = float(value) if tp is float else _to_int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected {'a number' if tp is float else 'an integer'}, "
                              f"got {value!r}") from None
        return number
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected text, got {value!r}")
        return value
    return value


def _to_int(value: Any) -> int:
    f = float(value)
    if not f.is_integer():
        raise ValueError
    return int(f)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_dict(cls: type[T], data: Mapping[str, Any], prefix: str = "") -> T:
    """Build ``cls`` from a (nested) mapping, coercing types and rejecting unknown keys."""
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            raise unknown("setting", prefix + key, [prefix + n for n in names])
        kwargs[key] = _coerce(hints[key], value, prefix + key)
    return cls(**kwargs)


def replace(cfg: T, updates: Mapping[str, Any], prefix: str = "") -> T:
    """A copy of ``cfg`` with dotted ``updates`` applied (``{"loss.style_weight": "1e4"}``).

    ``prefix`` is the dotted path of ``cfg`` itself, so that errors name the full key.
    """
    nested: dict[str, dict[str, Any]] = {}
    flat: dict[str, Any] = {}
    hints = _hints(type(cfg))
    names = [f.name for f in dataclasses.fields(cfg)]
    for key, value in updates.items():
        head, _, rest = key.partition(".")
        if head not in names:
            raise unknown("setting", prefix + key, _all_keys(type(cfg), prefix))
        if rest:
            if not dataclasses.is_dataclass(hints[head]):
                raise unknown("setting", prefix + key, _all_keys(type(cfg), prefix))
            nested.setdefault(head, {})[rest] = value
        else:
            flat[head] = _coerce(hints[head], value, prefix + key)
    for head, sub in nested.items():
        inner = replace(flat.get(head, getattr(cfg, head)), sub, prefix=f"{prefix}{head}.")
        flat[head] = inner
    return dataclasses.replace(cfg, **flat)


def _all_keys(cls: type, prefix: str = "") -> list[str]:
    keys = []
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            keys += _all_keys(hints[f.name], prefix + f.name + ".")
        else:
            keys.append(prefix + f.name)
    return keys


def parse_sets(items: Sequence[str] | None) -> dict[str, str]:
    """``["a.b=1", "c=x"]`` -> ``{"a.b": "1", "c": "x"}`` (the ``--set`` flag)."""
    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got '{item}'")
        out[key.strip()] = value.strip()
    return out


def load_presets(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a TOML file of ``[preset-name]`` tables."""
    with open(path, "rb") as f:
        return tomllib.load(f)


def preset(cls: type[T], presets: Mapping[str, Mapping[str, Any]], name: str) -> T:
    """Build ``cls`` from the named preset (a ConfigError names the closest preset)."""
    if name not in presets:
        raise unknown("preset", name, presets)
    table = {k: v for k, v in presets[name].items() if k != "description"}
    return from_dict(cls, table)


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config (tuples become lists)."""
    return dataclasses.asdict(cfg)
