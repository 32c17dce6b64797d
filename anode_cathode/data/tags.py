"""Names of the data sets of a run: one tag per signal injection (count or S/B, and seed)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["injection_from_tag", "injection_tag"]


def injection_tag(cfg: Mapping[str, Any]) -> str:
    """Name of the injected data set, e.g. ``n1000-s0`` or ``sb0.003-s1``."""
    inj = cfg["injection"]
    if inj["s_over_b"] is not None:
        return f"sb{inj['s_over_b']:g}-s{inj['seed']}"
    return f"n{inj['n_signal']}-s{inj['seed']}"


def injection_from_tag(tag: str) -> dict[str, Any]:
    """Inverse of :func:`injection_tag`."""
    m = re.fullmatch(r"(n|sb)([0-9.eE+-]+)-s([0-9]+)", tag)
    if m is None:
        raise ValueError(f"malformed injection tag '{tag}' (expected e.g. n1000-s0 or sb0.003-s1)")
    kind, value, seed = m.groups()
    if kind == "n":
        return {"n_signal": int(value), "s_over_b": None, "seed": int(seed)}
    return {"n_signal": None, "s_over_b": float(value), "seed": int(seed)}
