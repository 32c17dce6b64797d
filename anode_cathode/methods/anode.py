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

__all__ = [
    "OUTSIDE_SUPPORT",
    "density_ratio",
    "flow_training_data",
    "score_seeds",
    "score_tables",
]

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


def _ratio(lp_sr: np.ndarray, lp_sb: np.ndarray) -> np.ndarray:
    """lp_sr - lp_sb where both are finite, :data:`OUTSIDE_SUPPORT` elsewhere (counted)."""
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


def density_ratio(flow_sr: Any, flow_sb: Any, X: np.ndarray, m: np.ndarray) -> np.ndarray:
    """log p_SR - log p_SB; events outside either flow's support get :data:`OUTSIDE_SUPPORT`.

    A flow's support is the range of its training data (plus the preprocessing margin); a ratio
    with an undefined density is not a measurement, and giving it an extreme *high* score would
    let the tails of the features, which move with m_JJ, pass every cut.
    """
    return _ratio(flow_sr.log_prob(X, m), flow_sb.log_prob(X, m))


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
    return score_seeds(flows_sb, [flows_sr], tables, features, window, score_data)[0]


def score_seeds(
    flows_sb: Sequence[Any],
    flows_sr_by_seed: Sequence[Sequence[Any]],
    tables: dict[str, pd.DataFrame],
    features: Sequence[str],
    window: Window,
    score_data: bool = True,
) -> list[dict[str, pd.DataFrame]]:
    """:func:`score_tables` for the SR flows of several training seeds, one result per seed.

    The SB flows are the same for every seed and every event is scored at the SR centre, so
    their densities are computed once and shared by the seeds.
    """
    k = len(flows_sb)
    for flows_sr in flows_sr_by_seed:
        if len(flows_sr) != k or not flows_sr:
            raise ValueError(
                f"ANODE needs one SB flow per SR flow (one per fold), got {k} SB and "
                f"{len(flows_sr)} SR flows"
            )
    cols = [c for c in features if c != "mjj"]
    test = tables["test"]
    x_test = test[cols].to_numpy()
    m_test = np.full(len(test), window.center)
    sets = {}  # event sets scored out of fold: the events of fold f by pair f
    if score_data and k > 1:
        sets["data"] = tables["data"]
        if tables.get("spurious") is not None:
            sets["spurious"] = tables["spurious"]
    sb_test = [flow.log_prob(x_test, m_test) for flow in flows_sb]
    sb_sets = {name: _log_prob_by_fold(flows_sb, t, cols, window) for name, t in sets.items()}
    results = []
    for flows_sr in flows_sr_by_seed:
        ratios = [
            _ratio(sr.log_prob(x_test, m_test), lp_sb)
            for sr, lp_sb in zip(flows_sr, sb_test, strict=True)
        ]
        out = {
            "test": pd.DataFrame(
                {
                    "score": np.mean(ratios, axis=0),
                    "label": test["label"].to_numpy(),
                    "mjj": test["mjj"].to_numpy(),
                }
            )
        }
        for name, events in sets.items():
            lp_sr = _log_prob_by_fold(flows_sr, events, cols, window)
            scored = pd.DataFrame(
                {
                    "score": _ratio(lp_sr, sb_sets[name]),
                    "mjj": events["mjj"].to_numpy(),
                    "fold": events["fold"].to_numpy(),
                }
            )
            out[name] = (
                scored.assign(label=events["label"].to_numpy()) if name == "data" else scored
            )
        results.append(out)
    return results


def _log_prob_by_fold(
    flows: Sequence[Any], events: pd.DataFrame, cols: Sequence[str], window: Window
) -> np.ndarray:
    """log p(x | SR centre) of ``events``, those of fold f by ``flows[f]``."""
    fold = events["fold"].to_numpy()
    out = np.empty(len(events))
    for f, flow in enumerate(flows):
        sel = fold == f
        out[sel] = flow.log_prob(
            events.loc[sel, list(cols)].to_numpy(), np.full(sel.sum(), window.center)
        )
    return out
