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

__all__ = ["density_ratio", "flow_training_data", "score_tables"]

log = logging.getLogger(__name__)


def flow_training_data(
    data: pd.DataFrame,
    window: Window,
    features: Sequence[str],
    region: str,
    fold: int,
    folds: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Features and masses that train the ``region`` ("sb" or "sr") flow of ``fold``.

    With k >= 2 folds the flow of fold f sees only the other folds, like the classifiers: a
    flow that trained on an event gives it a higher density than an unseen event, so scoring
    the sideband with an in-sample SB flow would lower the sideband scores and sculpt a bump
    into the SR after a cut. With k = 1 the flow trains on all events of the region.
    """
    if region not in ("sb", "sr"):
        raise ValueError(f"region must be 'sb' or 'sr', got {region!r}")
    if not 0 <= fold < max(folds, 1):
        raise ValueError(f"fold {fold} is not in 0..{max(folds, 1) - 1}")
    cols = [c for c in features if c != "mjj"]
    mjj = data["mjj"].to_numpy()
    sel = window.in_sr(mjj) if region == "sr" else window.in_sb(mjj)
    if folds > 1:
        sel &= data["fold"].to_numpy() != fold
    return data.loc[sel, cols].to_numpy(), mjj[sel]


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
    flows_sb: Sequence[Any],
    flows_sr: Sequence[Any],
    tables: dict[str, pd.DataFrame],
    features: Sequence[str],
    window: Window,
    score_data: bool = True,
) -> dict[str, pd.DataFrame]:
    """Test scores (mean over the fold pairs) and out-of-fold data scores when k >= 2 and
    ``score_data`` (the bump hunt's input; the evaluation reads the test set only).

    ``flows_sb[f]`` and ``flows_sr[f]`` are the SB and SR flows of fold f (one pair when
    k = 1); data events of fold f are scored by pair f, which never trained on them.

    Test events are scored at their own mass. The SR flow only knows SR masses, so for the
    spectrum-wide score cut of the bump hunt every data event is scored at the SR centre: like
    the CATHODE and CWoLa classifiers, the data score is then a function of the features alone,
    with no step at the SR edges (which would sculpt the spectrum).

    With the data, an independent background sample ``tables["spurious"]`` (calibration; a
    random ``fold`` per event) is scored the same way, its fold-f events by pair f, so that the
    bump hunt can measure the spurious signal of ANODE's cuts like that of the classifiers'.
    """
    if len(flows_sb) != len(flows_sr) or not flows_sr:
        raise ValueError(
            f"ANODE needs one SB flow per SR flow (one per fold), got {len(flows_sb)} SB and "
            f"{len(flows_sr)} SR flows"
        )
    pairs = list(zip(flows_sr, flows_sb, strict=True))
    cols = [c for c in features if c != "mjj"]
    test, data = tables["test"], tables["data"]
    x_test, m_test = test[cols].to_numpy(), test["mjj"].to_numpy()
    test_score = np.mean([density_ratio(sr, sb, x_test, m_test) for sr, sb in pairs], axis=0)
    out = {
        "test": pd.DataFrame(
            {"score": test_score, "label": test["label"].to_numpy(), "mjj": m_test}
        )
    }
    if score_data and len(pairs) > 1:
        out["data"] = _score_by_fold(pairs, data, cols, window).assign(
            label=data["label"].to_numpy()
        )
        if tables.get("spurious") is not None:
            out["spurious"] = _score_by_fold(pairs, tables["spurious"], cols, window)
    return out


def _score_by_fold(
    pairs: Sequence[tuple[Any, Any]], events: pd.DataFrame, cols: Sequence[str], window: Window
) -> pd.DataFrame:
    """Scores of ``events`` at the SR centre, those of fold f by the flow pair f."""
    fold = events["fold"].to_numpy()
    score = np.empty(len(events))
    for f, (sr, sb) in enumerate(pairs):
        sel = fold == f
        m_eval = np.full(sel.sum(), window.center)
        score[sel] = density_ratio(sr, sb, events.loc[sel, list(cols)].to_numpy(), m_eval)
    return pd.DataFrame({"score": score, "mjj": events["mjj"].to_numpy(), "fold": fold})
