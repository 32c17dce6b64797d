"""Signal regions (SR) and sidebands (SB) in the dijet mass."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["Window", "find_window", "windows_from_config"]


@dataclass(frozen=True)
class Window:
    """One signal region ``[sr_lo, sr_hi)`` with the data range ``[sb_lo, sb_hi)`` around it.

    The sideband (SB) is the data range minus the SR; CWoLa uses only the strips of width
    ``strip`` next to the SR. Masses in TeV.
    """

    sr_lo: float
    sr_hi: float
    sb_lo: float = 0.0
    sb_hi: float = math.inf
    strip: float = 0.2

    @property
    def name(self) -> str:
        """Wildcard-safe name, e.g. ``sr3300-3700`` (GeV)."""
        return f"sr{round(self.sr_lo * 1000)}-{round(self.sr_hi * 1000)}"

    @property
    def center(self) -> float:
        return 0.5 * (self.sr_lo + self.sr_hi)

    def in_range(self, mjj: np.ndarray) -> np.ndarray:
        return (mjj >= self.sb_lo) & (mjj < self.sb_hi)

    def in_sr(self, mjj: np.ndarray) -> np.ndarray:
        return (mjj >= self.sr_lo) & (mjj < self.sr_hi)

    def in_sb(self, mjj: np.ndarray) -> np.ndarray:
        return self.in_range(mjj) & ~self.in_sr(mjj)

    def in_lower_strip(self, mjj: np.ndarray) -> np.ndarray:
        return (mjj >= max(self.sr_lo - self.strip, self.sb_lo)) & (mjj < self.sr_lo)

    def in_upper_strip(self, mjj: np.ndarray) -> np.ndarray:
        return (mjj >= self.sr_hi) & (mjj < min(self.sr_hi + self.strip, self.sb_hi))

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if math.isinf(v) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Window:
        return cls(
            sr_lo=float(d["sr_lo"]),
            sr_hi=float(d["sr_hi"]),
            sb_lo=float(d.get("sb_lo") or 0.0),
            sb_hi=math.inf if d.get("sb_hi") is None else float(d["sb_hi"]),
            strip=float(d.get("strip", 0.2)),
        )


def windows_from_config(cfg: Mapping[str, Any]) -> list[Window]:
    """Windows of ``cfg['windows']``: the single ``sr`` or the sliding ``scan`` grid."""
    win = cfg["windows"]
    sb_lo, sb_hi = win["sideband"] if win["sideband"] is not None else (0.0, math.inf)
    scan = win["scan"]
    if scan is None:
        edges = [tuple(win["sr"])]
    else:
        n = math.floor((scan["stop"] - scan["width"] - scan["start"]) / scan["step"] + 1e-9) + 1
        edges = [
            (
                round(scan["start"] + i * scan["step"], 6),
                round(scan["start"] + i * scan["step"] + scan["width"], 6),
            )
            for i in range(n)
        ]
    return [
        Window(float(lo), float(hi), float(sb_lo), float(sb_hi), float(win["cwola_width"]))
        for lo, hi in edges
    ]


def find_window(cfg: Mapping[str, Any], name: str) -> Window:
    """The window called ``name`` (e.g. ``sr3300-3700``) among those of the configuration."""
    windows = {w.name: w for w in windows_from_config(cfg)}
    if name not in windows:
        raise ValueError(f"unknown window '{name}'; the config defines {sorted(windows)}")
    return windows[name]
