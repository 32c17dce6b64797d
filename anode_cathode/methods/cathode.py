"""CATHODE (arXiv:2109.00546): SR data vs background sampled from the sideband flow.

The flow p(x | mjj) is trained on sideband data and interpolated into the SR at masses drawn
from a KDE of the SR data (:func:`draw_samples`); a classifier then separates SR data from
these samples, which approximates the idealized detector when the flow is accurate.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from anode_cathode.data.regions import Window

__all__ = ["draw_samples", "training_set"]

log = logging.getLogger(__name__)


def draw_samples(
    flow,
    data: pd.DataFrame,
    window: Window,
    features: Sequence[str],
    oversampling: float,
    bandwidth: float,
    seed: int,
) -> pd.DataFrame:
    """Background samples in the SR: ``oversampling`` per SR data event.

    The masses come from a KDE of the SR data mjj, the features from the flow's epoch mixture.
    """
    from anode_cathode.density import MassKDE

    mjj_sr = data.loc[window.in_sr(data["mjj"].to_numpy()), "mjj"].to_numpy()
    n = round(oversampling * len(mjj_sr))
    kde = MassKDE(bandwidth=bandwidth).fit(mjj_sr, bounds=(window.sr_lo, window.sr_hi))
    rng = np.random.RandomState(seed)
    mjj = kde.sample(n, random_state=rng)
    x = flow.sample(mjj, random_state=rng)
    samples = pd.DataFrame(x, columns=[c for c in features if c != "mjj"])
    samples.insert(0, "mjj", mjj)
    log.info("%s: drew %d CATHODE samples for %d SR data events", window.name, n, len(mjj_sr))
    return samples


def training_set(
    tables: Mapping[str, pd.DataFrame], window: Window, features: Sequence[str], keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    if "samples" not in tables:
        raise ValueError("CATHODE needs the flow samples (train-flow --samples, or sample)")
    data = tables["data"]
    sr = keep & window.in_sr(data["mjj"].to_numpy())
    cols = list(features)
    x_data = data.loc[sr, cols].to_numpy()
    x_samples = tables["samples"][cols].to_numpy()
    X = np.concatenate([x_data, x_samples])
    y = np.concatenate([np.ones(len(x_data)), np.zeros(len(x_samples))])
    return X, y, None
