"""Checks behind :mod:`reenactor.config`: number ranges, allowed choices, ordered pairs."""

from __future__ import annotations

from dataclasses import dataclass, fields

from reenactor.errors import ReenactorError


class ConfigError(ReenactorError):
    """A configuration value is outside what the pipeline accepts."""


@dataclass(frozen=True)
class Range:
    """Allowed numbers: ``lo <= v <= hi`` (``<`` where ``open_lo``/``open_hi``); None is no bound."""

    lo: float | None = None
    hi: float | None = None
    open_lo: bool = False
    open_hi: bool = False
    integer: bool = False
    optional: bool = False

    def check(self, name: str, v) -> None:
        if v is None and self.optional:
            return
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (self.integer and not isinstance(v, int)):
            raise ConfigError(f"{name} must be {'an integer' if self.integer else 'a number'}, not {v!r}")
        low = self.lo is not None and (v <= self.lo if self.open_lo else v < self.lo)
        high = self.hi is not None and (v >= self.hi if self.open_hi else v > self.hi)
        if low or high:
            lo = "-inf" if self.lo is None else self.lo
            hi = "inf" if self.hi is None else self.hi
            raise ConfigError(f"{name} must be in {'(' if self.open_lo else '['}{lo}, {hi}{')' if self.open_hi else ']'}, not {v!r}")


def validate(obj, rules: dict, ordered: tuple = ()) -> None:
    """Check every field of ``obj`` named in ``rules`` (a :class:`Range` or a tuple of choices),
    and each ``(a, b)`` of ``ordered`` for ``a <= b``."""
    cls = type(obj).__name__
    for f in fields(obj):
        rule, value = rules.get(f.name), getattr(obj, f.name)
        if isinstance(rule, Range):
            rule.check(f"{cls}.{f.name}", value)
        elif rule is not None and value not in rule:
            raise ConfigError(f"{cls}.{f.name} must be one of {', '.join(map(repr, rule))}, not {value!r}")
    for a, b in ordered:
        if getattr(obj, a) > getattr(obj, b):
            raise ConfigError(f"{cls}.{a} ({getattr(obj, a)}) must not exceed {cls}.{b} ({getattr(obj, b)})")
