"""ANODE (arXiv:2001.04990): density ratio of a signal-region flow to the sideband flow.

score(x, m) = log p_SR(x | m) - log p_SB(x | m), both flows averaged over their best epochs and
evaluated in the original feature space (the preprocessing Jacobians are included), so the two
densities are comparable although each flow has its own preprocessing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from anode_cathode.data.regions import Window

__all__ = ["density_ratio", "score_tables", "sr_training_data"]

log = logging.getLogger(__name__)


def sr_training_data(
    data: pd.DataFrame, window: Window, features: Sequence[str], fold: int, folds: int
) -> tuple[np.ndarray, np.ndarray]:
    """SR data for the SR flow of ``fold``: all SR data, or the other folds when k >= 2."""
    cols = [c for c in features if c != "mjj"]
    sr = window.in_sr(data["mjj"].to_numpy())
    if folds > 1:
        sr &= data["fold"].to_numpy() != fold
    return data.loc[sr, cols].to_numpy(), data.loc[sr, "mjj"].to_numpy()


def density_ratio(flow_sr: Any, flow_sb: Any, X: np.ndarray, m: np.ndarray) -> np.ndarray:
    """log p_SR - log p_SB, with events outside a flow's support mapped to finite extremes.

    Outside the SB flow's support (p_SB = 0) an event is maximally anomalous, outside the SR
    flow's support minimally; both are counted in the log rather than left as +-inf/NaN.
    """
    lp_sr = flow_sr.log_prob(X, m)
    lp_sb = flow_sb.log_prob(X, m)
    with np.errstate(invalid="ignore"):
        score = lp_sr - lp_sb
    finite = np.isfinite(score)
    if not finite.all():
        lo, hi = (score[finite].min(), score[finite].max()) if finite.any() else (0.0, 0.0)
        out_sb = ~np.isfinite(lp_sb) & np.isfinite(lp_sr)
        log.info(
            "ANODE: %d events outside the SB flow support (score set to max), %d outside the "
            "SR flow support (set to min)",
            int(out_sb.sum()),
            int((~finite & ~out_sb).sum()),
        )
        score = np.where(finite, score, np.where(out_sb, hi, lo))
    return score


def score_tables(
    flow_sb: Any,
    flows_sr: Sequence[Any],
    tables: dict[str, pd.DataFrame],
    features: Sequence[str],
    window: Window,
) -> dict[str, pd.DataFrame]:
    """Test scores (mean over the fold flows) and out-of-fold data scores when k >= 2.

    Test events are scored at their own mass. The SR flow only knows SR masses, so for the
    spectrum-wide score cut of the bump hunt every data event is scored at the SR centre: like
    the CATHODE and CWoLa classifiers, the data score is then a function of the features alone,
    with no step at the SR edges (which would sculpt the spectrum).
    """
    cols = [c for c in features if c != "mjj"]
    test, data = tables["test"], tables["data"]
    x_test, m_test = test[cols].to_numpy(), test["mjj"].to_numpy()
    test_score = np.mean([density_ratio(f, flow_sb, x_test, m_test) for f in flows_sr], axis=0)
    out = {
        "test": pd.DataFrame(
            {"score": test_score, "label": test["label"].to_numpy(), "mjj": m_test}
        )
    }
    if len(flows_sr) > 1:
        fold = data["fold"].to_numpy()
        score = np.empty(len(data))
        m_eval = np.full(len(data), window.center)
        for f, flow in enumerate(flows_sr):
            sel = fold == f
            score[sel] = density_ratio(flow, flow_sb, data.loc[sel, cols].to_numpy(), m_eval[sel])
        out["data"] = pd.DataFrame(
            {
                "score": score,
                "mjj": data["mjj"].to_numpy(),
                "fold": fold,
                "label": data["label"].to_numpy(),
            }
        )
    return out
