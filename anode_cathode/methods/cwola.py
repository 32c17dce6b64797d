"""CWoLa hunting: SR data vs data in the sideband strips next to the SR.

The classifier learns whatever separates the SR from the strips. Background features drift
with m_JJ (jet masses grow with the jet momenta), so a mixture of the strips that is not
centred on the SR in m_JJ hands the classifier a mass trend, and its cut then sculpts a bump.
With ``mass_matched`` (the default) the two strips share the SB weight so that the mixture
has the SR's mean m_JJ: if the background density changes linearly in m_JJ across the strips
and the SR, p(x | m) = (1 - t) p_lower(x) + t p_upper(x) with t = (m - <m>_lower) /
(<m>_upper - <m>_lower), and the SR background is exactly the mixture with weight
t_SR = (<m>_SR - <m>_lower) / (<m>_upper - <m>_lower) on the upper strip. The falling
spectrum puts <m>_SR below the SR centre, so the equal shares used before gave the upper strip
too much weight. SR vs SB balance is applied by the classifier's class weights.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from anode_cathode.data.regions import Window

__all__ = [
    "MASS_FEATURES",
    "feature_matrix",
    "input_builder",
    "mass_exponents",
    "strip_shares",
    "training_set",
]

log = logging.getLogger(__name__)

#: Features with the dimension of a mass: rescaled to the SR's mass with ``scale_masses``.
MASS_FEATURES = frozenset({"mj1", "mj2", "delta_mj"})


def mass_exponents(data: pd.DataFrame, window: Window, features: Sequence[str]) -> dict[str, float]:
    """Per mass feature, the exponent k of its mean's power law in m_JJ, <x> ∝ m_JJ^k, from the
    two strips' events (QCD jet masses grow with the jet momenta: k ≈ 0.6 for m_J1 on the
    built-in background).

    Only the strips enter, never the SR, so a signal there cannot bend the scaling; a feature
    whose mean is not positive in both strips keeps k = 0 (no scaling).
    """
    mjj = data["mjj"].to_numpy()
    lower, upper = window.in_lower_strip(mjj), window.in_upper_strip(mjj)
    if not lower.any() or not upper.any():
        return {}
    log_mass = np.log(mjj[upper].mean() / mjj[lower].mean())
    exponents = {}
    for name in features:
        if name in MASS_FEATURES:
            x = data[name].to_numpy()
            lo, up = x[lower].mean(), x[upper].mean()
            exponents[name] = float(np.log(up / lo) / log_mass) if lo > 0 and up > 0 else 0.0
    return exponents


def feature_matrix(
    table: pd.DataFrame,
    features: Sequence[str],
    exponents: Mapping[str, float] | None = None,
    reference: float = 1.0,
) -> np.ndarray:
    """The classifier's inputs of ``table``: each feature with an exponent k in ``exponents``
    multiplied by (reference / m_JJ)^k, i.e. moved to the mass ``reference`` along its
    power law (:func:`mass_exponents`)."""
    X = table[list(features)].to_numpy(dtype=np.float64, copy=True)
    if exponents:
        mjj = table["mjj"].to_numpy(dtype=np.float64)
        for i, name in enumerate(features):
            if exponents.get(name):
                X[:, i] *= (reference / mjj) ** exponents[name]
    return X


def input_builder(
    tables: Mapping[str, pd.DataFrame],
    window: Window,
    features: Sequence[str],
    scale_masses: bool = False,
    **_: object,
) -> Callable[[pd.DataFrame], np.ndarray]:
    """``inputs(table)`` for training and scoring alike: the ``features`` columns, with
    ``scale_masses`` the jet masses rescaled to the SR centre with the exponents of the
    window's strips."""
    if not scale_masses:
        return lambda table: feature_matrix(table, features)
    exponents = mass_exponents(tables["data"], window, features)
    log.info("%s: CWoLa mass exponents %s", window.name, exponents)
    return lambda table: feature_matrix(table, features, exponents, window.center)


def strip_shares(
    mjj_sr: np.ndarray, mjj_lower: np.ndarray, mjj_upper: np.ndarray
) -> tuple[float, float]:
    """Shares (summing to one) of the lower and upper strip whose mixture has the SR's mean
    m_JJ (module docstring).

    Raises
    ------
    ValueError
        If the SR's mean m_JJ does not lie between the strips' means (strips on the wrong
        sides of the SR).
    """
    m_sr, m_lo, m_up = (float(np.mean(m)) for m in (mjj_sr, mjj_lower, mjj_upper))
    if not m_lo < m_sr < m_up:
        raise ValueError(
            f"mean mjj of the SR ({m_sr:.4g}) must lie between those of the lower "
            f"({m_lo:.4g}) and upper ({m_up:.4g}) CWoLa strips"
        )
    t = (m_sr - m_lo) / (m_up - m_lo)
    return 1.0 - t, t


def training_set(
    tables: Mapping[str, pd.DataFrame],
    window: Window,
    features: Sequence[str],
    keep: np.ndarray,
    mass_matched: bool = True,
    scale_masses: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """SR data (label 1) against the strips' data (label 0), weighted per strip.

    ``mass_matched``: strip shares from :func:`strip_shares`; ``False`` gives each strip half
    the SB weight.
    """
    data = tables["data"]
    mjj = data["mjj"].to_numpy()
    sr = keep & window.in_sr(mjj)
    lower = keep & window.in_lower_strip(mjj)
    upper = keep & window.in_upper_strip(mjj)
    if not lower.any() or not upper.any():
        raise ValueError(
            f"window {window.name}: a CWoLa sideband strip is empty (lower {lower.sum()}, "
            f"upper {upper.sum()} events); check windows.cwola_width and windows.sideband"
        )
    share_lo, share_up = 0.5, 0.5
    if mass_matched:
        try:
            share_lo, share_up = strip_shares(mjj[sr], mjj[lower], mjj[upper])
        except ValueError as err:
            raise ValueError(f"window {window.name}: {err}") from None
        log.info(
            "%s: CWoLa strip shares %.3f (lower) / %.3f (upper), matching the SR's mean mjj",
            window.name,
            share_lo,
            share_up,
        )
    cols = list(features)
    inputs = input_builder(tables, window, cols, scale_masses=scale_masses)
    X = np.concatenate([inputs(data.loc[m]) for m in (sr, lower, upper)])
    y = np.concatenate([np.ones(sr.sum()), np.zeros(lower.sum() + upper.sum())])
    n_sb = lower.sum() + upper.sum()
    w = np.concatenate(
        [
            np.ones(sr.sum()),
            np.full(lower.sum(), share_lo * n_sb / lower.sum()),
            np.full(upper.sum(), share_up * n_sb / upper.sum()),
        ]
    )
    return X, y, w
