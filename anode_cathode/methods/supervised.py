"""Fully supervised classifier: true signal vs true background in the SR (the upper bound)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from anode_cathode.data.regions import Window


def training_set(
    tables: Mapping[str, pd.DataFrame], window: Window, features: Sequence[str], keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    sig = tables["signal_train"][list(features)].to_numpy()
    bkg = tables["extra_train"][list(features)].to_numpy()
    if len(sig) == 0:
        raise ValueError(
            f"window {window.name}: no signal events to train the supervised classifier"
        )
    X = np.concatenate([sig, bkg])
    y = np.concatenate([np.ones(len(sig)), np.zeros(len(bkg))])
    return X, y, None
