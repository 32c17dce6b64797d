"""Event selection applied to every input before the features: defined substructure and an
optional rapidity gap between the two jets (docs/data.md).

* **N-subjettiness ratios need τ_N > 0.** A jet with one constituent has τ1 = 0 (and τ2 = τ3 =
  0), so τ21 and τ32 are undefined; setting them to 0 would put a point mass into the
  features, which a flow cannot model and a classifier learns as a spike. Such events are
  dropped and counted.
* **|Δy| < ``data.max_delta_y``** (off by default). Dijet resonance searches select central
  pairs (CMS: |Δy| < 1.3, ATLAS: |y*| = |Δy|/2 < 0.6): t-channel QCD grows with |Δy| while an
  s-channel resonance does not, and with the cut the trigger is fully efficient from
  m_JJ ≈ 2 pT_trigger cosh(Δy_max/2), so the spectrum above it is a smooth dijet shape. The
  built-in generator applies its own cut (``data.builtin.params.dy_max``, 1.3); LHCO and ROOT
  inputs have none unless this key sets one.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

__all__ = ["TAU_COLUMNS", "delta_y", "select_events"]

log = logging.getLogger(__name__)

#: N-subjettiness columns whose zeros make the τ ratios undefined.
TAU_COLUMNS = tuple(f"tau{n}j{j}" for j in (1, 2) for n in (1, 2, 3))


def _rapidity(px: np.ndarray, py: np.ndarray, pz: np.ndarray, m: np.ndarray) -> np.ndarray:
    energy = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    return 0.5 * np.log((energy + pz) / (energy - pz))


def delta_y(raw: pd.DataFrame) -> np.ndarray:
    """Rapidity difference y₁ − y₂ of the two jets (LHCO columns, any energy unit).

    Invariant under boosts along the beam, unlike the pseudorapidity difference of massive
    jets.

    Examples
    --------
    >>> import pandas as pd
    >>> jets = pd.DataFrame({"pxj1": [100.0], "pyj1": [0.0], "pzj1": [0.0], "mj1": [10.0],
    ...                      "pxj2": [-100.0], "pyj2": [0.0], "pzj2": [0.0], "mj2": [10.0]})
    >>> float(delta_y(jets)[0])
    0.0
    """
    y = [
        _rapidity(*(raw[f"{c}j{j}"].to_numpy(np.float64) for c in ("px", "py", "pz", "m")))
        for j in (1, 2)
    ]
    return y[0] - y[1]


def select_events(
    raw: pd.DataFrame, max_delta_y: float | None = None, *, source: str = "input"
) -> pd.DataFrame:
    """The events of ``raw`` (LHCO columns) with every τ_N > 0 and, if given,
    |Δy| < ``max_delta_y``; what was dropped, and why, is logged with ``source``."""
    zero_tau = np.zeros(len(raw), dtype=bool)
    for col in TAU_COLUMNS:
        if col in raw:
            zero_tau |= raw[col].to_numpy() <= 0
    keep = ~zero_tau
    if zero_tau.any():
        log.info(
            "%s: dropped %d of %d events with a jet of tau_N = 0 (undefined tau ratios)",
            source,
            int(zero_tau.sum()),
            len(raw),
        )
    if max_delta_y is not None:
        gap = np.abs(delta_y(raw)) >= float(max_delta_y)
        log.info(
            "%s: dropped %d of %d events with |delta y| >= %g (data.max_delta_y)",
            source,
            int((gap & keep).sum()),
            len(raw),
            float(max_delta_y),
        )
        keep &= ~gap
    if keep.all():
        return raw
    return raw[keep].reset_index(drop=True)
