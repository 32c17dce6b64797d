"""ANODE (arXiv:2001.04990): density ratio of a signal-region flow to the sideband flow.

One score for every event, test set and data alike (docs/methods.md):

    score(x) = log p_SR(x | m_c) - log p_SB(x | m_c),   m_c = centre of the signal region,

both flows averaged over their best epochs and evaluated in the original feature space (the
preprocessing Jacobians are included), so the two densities are comparable although each flow
has its own preprocessing. The SR flow knows only SR masses, so the spectrum-wide cut of the
bump hunt needs a fixed mass; the test set is scored the same way, so that its SIC curve
describes the cut the bump hunt applies. An event outside the support of either flow (beyond
the range of its training data) has no estimable ratio: it gets :data:`OUTSIDE_SUPPORT` (below
every real score, so no cut keeps it) and is counted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from anode_cathode.data.regions import Window

__all__ = ["OUTSIDE_SUPPORT", "density_ratio", "flow_training_data", "score_tables"]

#: Score of an event outside the support of the SR or the SB flow: below every real ratio.
OUTSIDE_SUPPORT = -1.0e6

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
    """log p_SR - log p_SB; events outside either flow's support get :data:`OUTSIDE_SUPPORT`.

    A flow's support is the range of its training data (plus the preprocessing margin); a ratio
    with an undefined density is not a measurement, and giving it an extreme *high* score would
    let the tails of the features, which move with m_JJ, pass every cut.
    """
    lp_sr = flow_sr.log_prob(X, m)
    lp_sb = flow_sb.log_prob(X, m)
    inside = np.isfinite(lp_sr) & np.isfinite(lp_sb)
    if not inside.all():
        log.info(
            "ANODE: %d of %d events outside the support of the SR or SB flow (score %g)",
            int((~inside).sum()),
            len(inside),
            OUTSIDE_SUPPORT,
        )
    with np.errstate(invalid="ignore"):
        return np.where(inside, lp_sr - lp_sb, OUTSIDE_SUPPORT)


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

    Every event is scored at the SR centre (module docstring): like the CATHODE and CWoLa
    classifiers, the score is then a function of the features alone, with no step at the SR
    edges (which would sculpt the spectrum), and the test set's SIC describes the data's cut.

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
    m_centre = np.full(len(test), window.center)
    test_score = np.mean([density_ratio(sr, sb, x_test, m_centre) for sr, sb in pairs], axis=0)
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
