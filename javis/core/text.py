"""Numbers as people read them in tables, reports and gate lines: one formatting for every command."""

from __future__ import annotations


def fmt(value: object, signed: bool = False, missing: str = "-") -> str:
    """`0.1234` for floats (`+0.1234` when `signed`), integers as they are, `missing` for None."""
    if value is None:
        return missing
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:+d}" if signed else str(value)
    if isinstance(value, float):
        return f"{value:+.4f}" if signed else f"{value:.4f}"
    return str(value)
