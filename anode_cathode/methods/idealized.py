"""Idealized anomaly detector: SR data vs perfectly modelled (true) SR background."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from anode_cathode.data.regions import Window


def training_set(
    tables: Mapping[str, pd.DataFrame], window: Window, features: Sequence[str], keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    data = tables["data"]
    sr = keep & window.in_sr(data["mjj"].to_numpy())
    x_data = data.loc[sr, list(features)].to_numpy()
    x_bkg = tables["extra_train"][list(features)].to_numpy()
    X = np.concatenate([x_data, x_bkg])
    y = np.concatenate([np.ones(len(x_data)), np.zeros(len(x_bkg))])
    return X, y, None
