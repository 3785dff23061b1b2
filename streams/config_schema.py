"""Generic validation of frozen config dataclasses from their annotations and field metadata.

A config dataclass calls :func:`validate` in ``__post_init__``. Each field is checked against its
annotated type and the limits in its metadata (made with :func:`limits`); a class attribute
``_section: ClassVar[str]`` (``"forecaster."``) prefixes the key in messages. Errors are
:class:`streams.errors.StreamError` with one line, e.g.
``config key forecaster.horizon_steps must be an integer >= 1, got 0``.

Types understood: ``int`` (not ``bool``), ``float`` (an ``int`` is accepted; finite unless
``allow_inf``), ``str``, ``bool``, ``X | None``, ``dict``, ``list``, ``tuple`` (with item types)
and nested dataclasses (validated by their own ``__post_init__``). Anything else is only checked by
its ``check``.
"""
from __future__ import annotations

import dataclasses
import math
import os
import types
import typing

from streams.errors import StreamError

_KEY = "__biosig_limits__"


def limits(*, min=None, max=None, exclusive_min: bool = False, exclusive_max: bool = False,
           choices=None, check=None, path: bool = False, allow_inf: bool = False) -> dict:
    """Field metadata for :func:`validate`.

    Parameters
    ----------
    min, max : numeric bounds (inclusive unless ``exclusive_min``/``exclusive_max``).
    choices : allowed values, or a callable returning them (evaluated at validation time).
    check : ``check(value) -> message or None`` for what types and bounds cannot say.
    path : a ``str`` field that also accepts ``os.PathLike`` (directories, files).
    allow_inf : a ``float`` field that accepts ``inf`` (``nan`` is never accepted).
    """
    return {_KEY: dict(min=min, max=max, exclusive_min=exclusive_min, exclusive_max=exclusive_max,
                       choices=choices, check=check, path=path, allow_inf=allow_inf)}


def field_limits(f: dataclasses.Field) -> dict:
    """The :func:`limits` of a field (all defaults when it has none)."""
    return f.metadata.get(_KEY) or limits()[_KEY]


def _short(value) -> str:
    r = repr(value)
    r = " ".join(r.split())
    return r if len(r) <= 60 else r[:57] + "..."


def _type_error(tp, value, lim) -> str | None:
    """Why ``value`` is not a ``tp``, or None."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = [_type_error(a, value, lim) for a in args if a is not type(None)]
        if any(e is None for e in errors):
            return None
        return errors[0] if len(errors) == 1 else "must be " + " or ".join(
            e.removeprefix("must be ") for e in errors)
    if tp is typing.Any:
        return None
    if tp is bool:
        return None if isinstance(value, bool) else "must be true or false"
    if tp is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else "must be an integer"
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "must be a number"
        if math.isnan(value) or (math.isinf(value) and not lim["allow_inf"]):
            return "must be a finite number"
        return None
    if tp is str:
        if isinstance(value, str) or (lim["path"] and isinstance(value, os.PathLike)):
            return None
        return "must be a string"
    if dataclasses.is_dataclass(tp):
        return None if isinstance(value, tp) else f"must be a table of {tp.__name__} keys"
    base = origin or tp
    if base in (dict, list, tuple):
        if not isinstance(value, base if base is not tuple else (tuple, list)):
            return {dict: "must be a table/object", list: "must be a list", tuple: "must be a list"}[base]
        args = typing.get_args(tp)
        if base is dict and len(args) == 2:
            for k, v in value.items():
                why = _type_error(args[0], k, lim) or _type_error(args[1], v, lim)
                if why:
                    return f"entry {_short(k)}: {why}"
        elif base is list and args:
            for v in value:
                if why := _type_error(args[0], v, lim):
                    return f"item {_short(v)}: {why}"
        elif base is tuple and args:
            its = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
            if len(its) != len(value):
                return f"must be a list of {len(its)} items"
            for a, v in zip(its, value):
                if why := _type_error(a, v, lim):
                    return f"item {_short(v)}: {why}"
        return None
    if isinstance(tp, type):
        return None if isinstance(value, tp) else f"must be a {tp.__name__}"
    return None


def _range_error(value, lim) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    lo, hi = lim["min"], lim["max"]
    if lo is not None and (value <= lo if lim["exclusive_min"] else value < lo):
        return f"must be {'>' if lim['exclusive_min'] else '>='} {lo}"
    if hi is not None and (value >= hi if lim["exclusive_max"] else value > hi):
        return f"must be {'<' if lim['exclusive_max'] else '<='} {hi}"
    return None


def check_value(f: dataclasses.Field, tp, value) -> str | None:
    """Why ``value`` is not acceptable for field ``f`` of type ``tp``, or None."""
    lim = field_limits(f)
    why = _type_error(tp, value, lim)
    if why is None and value is not None:
        why = _range_error(value, lim)
        if why is None and lim["choices"] is not None:
            choices = lim["choices"]() if callable(lim["choices"]) else lim["choices"]
            if value not in choices:
                why = f"must be one of {', '.join(map(str, choices))}"
        if why is None and lim["check"] is not None:
            why = lim["check"](value)
    return why


def validate(obj) -> None:
    """Check every field of the dataclass instance ``obj``; raise :class:`StreamError` (one line)."""
    cls = type(obj)
    hints = typing.get_type_hints(cls)
    section = getattr(cls, "_section", "")
    for f in dataclasses.fields(cls):
        value = getattr(obj, f.name)
        why = check_value(f, hints.get(f.name, typing.Any), value)
        if why:
            why = " ".join(str(why).split())
            key = f"config key {section}{f.name}"
            raise StreamError(f"{key} {why}, got {_short(value)}" if why.startswith("must ")
                              else f"{key}: {why}")
