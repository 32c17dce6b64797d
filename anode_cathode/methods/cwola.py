"""CWoLa hunting: SR data vs data in the sideband strips next to the SR.

The lower and upper strips get equal total weight so that the classifier cannot learn the
mass dependence of one side only; SR vs SB balance is applied by the classifier's class weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from anode_cathode.data.regions import Window


def training_set(
    tables: Mapping[str, pd.DataFrame], window: Window, features: Sequence[str], keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
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
    cols = list(features)
    X = np.concatenate([data.loc[sr, cols], data.loc[lower, cols], data.loc[upper, cols]])
    y = np.concatenate([np.ones(sr.sum()), np.zeros(lower.sum() + upper.sum())])
    n_sb = lower.sum() + upper.sum()
    w = np.concatenate(
        [
            np.ones(sr.sum()),
            np.full(lower.sum(), 0.5 * n_sb / lower.sum()),
            np.full(upper.sum(), 0.5 * n_sb / upper.sum()),
        ]
    )
    return X, y, w
