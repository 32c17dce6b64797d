"""The CATHODE feature set from the two leading jets (docs/data.md).

Jets are re-ordered by mass: ``j1`` in the feature table is the lighter jet. Masses in TeV.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from anode_cathode.data.lhco import RAW_COLUMNS

__all__ = [
    "BASE_FEATURES",
    "EXTENDED_FEATURES",
    "FEATURE_COLUMNS",
    "PHYSICAL_LOWER_BOUNDS",
    "compute_features",
    "dijet_mass",
]

#: Classifier inputs of the CATHODE paper.
BASE_FEATURES = ("mj1", "delta_mj", "tau21j1", "tau21j2")
#: Extra substructure ratios used by the boosted-tree studies.
EXTENDED_FEATURES = ("tau32j1", "tau32j2")
#: Every column of the feature table (``mjj`` is the resonant variable, not an input by default).
FEATURE_COLUMNS = ("mjj", *BASE_FEATURES, *EXTENDED_FEATURES)
#: Values no event goes below: masses, the mass difference (heavier minus lighter jet) and
#: N-subjettiness ratios are non-negative. delta_mj has events right at its bound, where the
#: flows' preprocessing must know it (docs/methods.md, "Flow preprocessing").
PHYSICAL_LOWER_BOUNDS = {
    "mjj": 0.0,
    "mj1": 0.0,
    "delta_mj": 0.0,
    "tau21j1": 0.0,
    "tau21j2": 0.0,
    "tau32j1": 0.0,
    "tau32j2": 0.0,
}


def dijet_mass(p1: np.ndarray, p2: np.ndarray) -> np.ndarray:
    """Invariant mass of two jets from ``(px, py, pz, m)`` arrays of shape ``(N, 4)``.

    Examples
    --------
    >>> import numpy as np
    >>> j = np.array([[100.0, 0.0, 0.0, 0.0]])
    >>> float(dijet_mass(j, -j)[0])  # back-to-back massless jets: mjj = 2 pT
    200.0
    """
    p1 = np.asarray(p1, dtype=np.float64)
    p2 = np.asarray(p2, dtype=np.float64)
    e1 = np.sqrt(np.sum(p1[:, :3] ** 2, axis=1) + p1[:, 3] ** 2)
    e2 = np.sqrt(np.sum(p2[:, :3] ** 2, axis=1) + p2[:, 3] ** 2)
    p = p1[:, :3] + p2[:, :3]
    m2 = (e1 + e2) ** 2 - np.sum(p**2, axis=1)
    # rounding can make m^2 slightly negative for collinear massless jets
    return np.sqrt(np.clip(m2, 0.0, None))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den == 0 (an empty or single-particle jet has tau_N = 0)."""
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def compute_features(raw: pd.DataFrame, *, source: str = "input") -> pd.DataFrame:
    """Build the feature table from the 14 LHCO kinematic columns (GeV).

    Parameters
    ----------
    raw
        Table with :data:`~anode_cathode.data.lhco.RAW_COLUMNS` and optionally ``label``.
    source
        Name of the input, used in error messages.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FEATURE_COLUMNS` (TeV for masses) plus ``label`` when present.
    """
    missing = [c for c in RAW_COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"{source}: missing columns {missing} needed for the features")
    values = raw[list(RAW_COLUMNS)].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        cols = [c for c, b in zip(RAW_COLUMNS, bad.any(axis=0), strict=True) if b]
        rows = np.flatnonzero(bad.any(axis=1))
        raise ValueError(
            f"{source}: {len(rows)} events have NaN/inf in columns {cols} "
            f"(first rows {rows[:5].tolist()}); remove or fix them in the input"
        )
    col = {c: values[:, i] for i, c in enumerate(RAW_COLUMNS)}
    jet1 = np.stack([col["pxj1"], col["pyj1"], col["pzj1"], col["mj1"]], axis=1)
    jet2 = np.stack([col["pxj2"], col["pyj2"], col["pzj2"], col["mj2"]], axis=1)
    mjj = dijet_mass(jet1, jet2) / 1000.0

    first_lighter = col["mj1"] <= col["mj2"]

    def by_mass(name: str) -> tuple[np.ndarray, np.ndarray]:
        a, b = col[f"{name}j1"], col[f"{name}j2"]
        return np.where(first_lighter, a, b), np.where(first_lighter, b, a)

    m_light, m_heavy = by_mass("m")
    t1_light, t1_heavy = by_mass("tau1")
    t2_light, t2_heavy = by_mass("tau2")
    t3_light, t3_heavy = by_mass("tau3")
    out = pd.DataFrame(
        {
            "mjj": mjj,
            "mj1": m_light / 1000.0,
            "delta_mj": (m_heavy - m_light) / 1000.0,
            "tau21j1": _ratio(t2_light, t1_light),
            "tau21j2": _ratio(t2_heavy, t1_heavy),
            "tau32j1": _ratio(t3_light, t2_light),
            "tau32j2": _ratio(t3_heavy, t2_heavy),
        }
    )
    if "label" in raw.columns:
        out["label"] = raw["label"].to_numpy(dtype=np.float64)
    return out
