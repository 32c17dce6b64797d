"""Signal injection, k-fold assignment and the per-window train/test split.

Leakage rules (docs/methods.md): the test set is built only from events that no classifier
trains on (true background outside the data plus non-injected signal), and with k folds the
model for fold f never sees data events of fold f, which it alone scores.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from anode_cathode.data.regions import Window

__all__ = ["assign_folds", "inject_signal", "n_signal_to_inject", "split_window"]

log = logging.getLogger(__name__)


def _rng(*keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(list(keys)))


def assign_folds(n: int, k: int, seed: int) -> np.ndarray:
    """Balanced random fold ids in ``0..k-1`` for ``n`` events (all 0 when k == 1)."""
    folds = np.arange(n) % k
    _rng(seed, 17).shuffle(folds)
    return folds.astype(np.int8)


def n_signal_to_inject(
    injection: Mapping[str, Any], n_bkg_sr: int, signal_sr_fraction: float
) -> int:
    """Signal events to inject into the full spectrum: a count, or the count that reaches
    ``s_over_b`` in the reference SR on average."""
    if injection["s_over_b"] is None:
        return int(injection["n_signal"])
    if signal_sr_fraction <= 0:
        raise ValueError(
            "injection.s_over_b: no signal events fall in the signal region windows.sr"
        )
    return round(injection["s_over_b"] * n_bkg_sr / signal_sr_fraction)


def inject_signal(
    events: pd.DataFrame, extra: pd.DataFrame, cfg: Mapping[str, Any], reference: Window
) -> dict[str, pd.DataFrame]:
    """Build the observed data: all background plus a random subset of the signal.

    Parameters
    ----------
    events
        Feature table with ``label`` (background and signal, full spectrum).
    extra
        Independent true background (may be empty); when empty, a random fraction
        ``data.holdout_background_fraction`` of the background is taken out of the data to
        serve as true background, uniformly over the spectrum so that no dip is sculpted.
    cfg
        Validated configuration (``injection``, ``splits``, ``data``).
    reference
        Window whose SR defines S/B for ``injection.s_over_b``.

    Returns
    -------
    dict
        ``data`` (with ``label`` for evaluation only, and ``fold``), ``signal_pool``
        (non-injected signal) and ``extra`` (true background).
    """
    if "label" not in events:
        raise ValueError("signal injection needs a 'label' column in the input events")
    inj = cfg["injection"]
    rng = _rng(inj["seed"], 1)
    is_sig = events["label"].to_numpy() == 1
    bkg = events[~is_sig]
    sig = events[is_sig]
    if len(extra) == 0:
        frac = cfg["data"]["holdout_background_fraction"]
        hold = rng.random(len(bkg)) < frac
        extra = bkg[hold]
        bkg = bkg[~hold]
        log.info(
            "no extra background: %d background events held out as true background", hold.sum()
        )
    n_bkg_sr = int(reference.in_sr(bkg["mjj"].to_numpy()).sum())
    sig_sr_frac = float(reference.in_sr(sig["mjj"].to_numpy()).mean()) if len(sig) else 0.0
    n_inj = n_signal_to_inject(inj, n_bkg_sr, sig_sr_frac)
    if n_inj > len(sig):
        raise ValueError(
            f"injection asks for {n_inj} signal events but the input has only {len(sig)}; "
            "lower injection.n_signal / injection.s_over_b"
        )
    order = rng.permutation(len(sig))
    injected, pool = sig.iloc[order[:n_inj]], sig.iloc[order[n_inj:]]
    data = pd.concat([bkg, injected], ignore_index=True)
    data = data.iloc[rng.permutation(len(data))].reset_index(drop=True)
    data["fold"] = assign_folds(len(data), cfg["splits"]["folds"], cfg["splits"]["seed"])
    n_inj_sr = int(reference.in_sr(injected["mjj"].to_numpy()).sum())
    log.info(
        "injected %d signal events (%d in %s, S/B = %.3g %%)",
        n_inj,
        n_inj_sr,
        reference.name,
        100 * n_inj_sr / max(n_bkg_sr, 1),
    )
    return {
        "data": data,
        "signal_pool": pool.reset_index(drop=True),
        "extra": extra.reset_index(drop=True),
    }


def _split_in_two(df: pd.DataFrame, first_fraction: float, rng: np.random.Generator):
    order = rng.permutation(len(df))
    n_first = round(first_fraction * len(df))
    return df.iloc[order[:n_first]], df.iloc[order[n_first:]]


def split_window(
    dataset: Mapping[str, pd.DataFrame], window: Window, splits: Mapping[str, Any]
) -> dict[str, pd.DataFrame]:
    """Tables one window's methods train and are tested on.

    Returns ``data`` (data events in the window's range, with ``fold``), ``extra_train`` (true SR
    background for the idealized detector), ``signal_train`` (SR signal for the supervised
    classifier) and ``test`` (held-out true SR background and SR signal, with ``label``).
    """
    data = dataset["data"]
    data = data[window.in_range(data["mjj"].to_numpy())].reset_index(drop=True)
    n_sr = int(window.in_sr(data["mjj"].to_numpy()).sum())
    if n_sr == 0:
        raise ValueError(
            f"window {window.name}: no data events in the signal region "
            f"[{window.sr_lo}, {window.sr_hi}) TeV (data mjj range "
            f"{dataset['data']['mjj'].min():.3g}-{dataset['data']['mjj'].max():.3g} TeV); "
            "fix windows.sr / windows.scan"
        )
    extra = dataset["extra"]
    extra_sr = extra[window.in_sr(extra["mjj"].to_numpy())]
    if len(extra_sr) < 2:
        raise ValueError(
            f"window {window.name}: no true background in the signal region for the idealized "
            "detector and the test set; widen data.builtin.extra_mjj_range or provide "
            "data.lhco.extra_background / data.root.extra_background_files"
        )
    pool = dataset["signal_pool"]
    sig_sr = pool[window.in_sr(pool["mjj"].to_numpy())]
    rng = _rng(splits["seed"], 2, round(window.sr_lo * 1000))
    extra_test, extra_train = _split_in_two(extra_sr, splits["extra_test_fraction"], rng)
    sig_test, sig_train = _split_in_two(sig_sr, splits["signal_test_fraction"], rng)
    test = pd.concat([extra_test, sig_test], ignore_index=True)
    log.info(
        "%s: %d data events in range, %d in SR; test %d background + %d signal",
        window.name,
        len(data),
        n_sr,
        len(extra_test),
        len(sig_test),
    )
    return {
        "data": data,
        "extra_train": extra_train.reset_index(drop=True),
        "signal_train": sig_train.reset_index(drop=True),
        "test": test,
    }
