"""Injection linearity: does the bump hunt's fitted signal follow the signal that is there?

For every injected data set, window and score cut, the bump hunt measures the excess
n_obs - b in the SR. Where the data carry truth labels (the built-in generator, labelled
inputs), the number of true signal events that pass the same cut in the same SR is known
(:attr:`~anode_cathode.bumphunt.window.CutResult.n_signal_true`). A background estimate that
closes gives n_obs - b = n_true on average, at every signal strength: a straight line of
slope 1 through the origin. A slope below 1 means the sideband fit absorbs signal (a signal
wider than the SR, or one that leaks into the sidebands); an offset means the cut sculpts
the background. The fits use the *signal windows* of each data set, those whose SR holds at
least ``SIGNAL_WINDOW_FRACTION`` of the largest uncut SR signal among its windows: in the
other windows the signal sits in the sideband fit and pulls their background up, a known
feature of sideband fits that ``points.csv`` keeps but the slope does not describe.

Two estimators of the signal are fitted against the truth: the bump hunt's own n_obs - b
(``sideband``), and the SR yield of a signal-plus-background fit of the same post-cut
spectrum with a Gaussian of the configured resolution (``signal+background``,
:mod:`anode_cathode.bumphunt.signal_fit`), which counts the signal that leaks into the
sidebands instead of taking it for background.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from anode_cathode.bumphunt.signal_fit import fit_signal_plus_background
from anode_cathode.bumphunt.window import CutResult

__all__ = [
    "ESTIMATORS",
    "SIGNAL_WINDOW_FRACTION",
    "fit_linearity",
    "linearity_markdown",
    "linearity_points",
    "plot_linearity",
]

#: A window is a signal window of its data set when its SR holds at least this fraction of
#: the largest uncut SR signal among the data set's windows (a mass between two windows gives
#: two signal windows).
SIGNAL_WINDOW_FRACTION = 0.5

#: The signal estimators: name, column of the estimate, column of the uncertainty that weights
#: it. Both are weighted by the statistical uncertainty of the SR count: the
#: signal-plus-background fit's own error (HESSE at the profiled best mean) leaves out the
#: mean's uncertainty and shrinks with the Gaussian's share in the SR, so a fit whose best
#: mean lies outside the SR would get a tiny error and dominate the line.
ESTIMATORS = (
    ("sideband", "fitted", "error"),
    ("signal+background", "fitted_splusb", "error"),
)


def _splusb(cut: CutResult, width: float) -> tuple[float, float]:
    """SR signal yield and uncertainty of the signal-plus-background fit (NaN if it fails)."""
    try:
        fit = fit_signal_plus_background(
            cut.edges, cut.counts, cut.fit_mask, cut.sr_mask, cut.fit_model, width
        )
    except ValueError:
        return float("nan"), float("nan")
    return fit.signal_sr, fit.signal_sr_error


def linearity_points(
    paths: Sequence[str | os.PathLike], signal_width: float | None = None
) -> pd.DataFrame:
    """One row per data set, window, method, classifier and cut, from the per-window bump-hunt
    results ``results/<run>/<inj>/<window>/bumphunt/<method>_<clf>.json``.

    Columns: ``data_set`` (the injection tag), ``window``, ``method``, ``classifier``,
    ``efficiency``, ``n_true`` (true signal events passing in the SR), ``fitted``
    (n_obs - b), ``error`` (sqrt(n_obs + sigma_b^2)), ``signal_window`` (module
    docstring) and, with ``signal_width`` (resolution as a fraction of the mass),
    ``fitted_splusb`` / ``error_splusb`` from the signal-plus-background fit (its HESSE
    error at the best mean, for information: :data:`ESTIMATORS` says what weights the lines).

    Raises
    ------
    ValueError
        If a result has no true signal count (data without labels).
    """
    rows = []
    for path in paths:
        path = Path(path)
        payload = json.loads(path.read_text())
        for d in payload["results"]:
            cut = CutResult.from_dict(d)
            if not np.isfinite(cut.n_signal_true):
                raise ValueError(
                    f"{path}: no true signal count; injection linearity needs labelled data "
                    "(the built-in generator, or an input with a label column)"
                )
            rows.append(
                {
                    "data_set": path.parents[2].name,
                    "window": cut.window.name,
                    "method": payload["method"],
                    "classifier": payload["classifier"],
                    "efficiency": cut.efficiency,
                    "n_true": cut.n_signal_true,
                    "fitted": cut.n_obs - cut.b,
                    "error": float(np.sqrt(cut.n_obs + cut.sigma_b**2)),
                }
            )
            if signal_width is not None:
                rows[-1]["fitted_splusb"], rows[-1]["error_splusb"] = _splusb(cut, signal_width)
    points = pd.DataFrame(rows)
    uncut = points[points["efficiency"] == 1.0]
    sr_signal = uncut.groupby(["data_set", "window"])["n_true"].max()
    largest = sr_signal.groupby(level="data_set").transform("max")
    signal = (sr_signal >= SIGNAL_WINDOW_FRACTION * largest) & (largest > 0)
    key = pd.MultiIndex.from_frame(points[["data_set", "window"]])
    points["signal_window"] = signal.reindex(key, fill_value=False).to_numpy()
    return points


def fit_linearity(points: pd.DataFrame) -> pd.DataFrame:
    """Weighted straight-line fit estimate = offset + slope * n_true per estimator
    (:data:`ESTIMATORS` whose columns ``points`` has), method, classifier and cut (weights
    1 / error^2 of the estimator's error column), over the signal windows (column
    ``signal_window``, when there).

    Returns
    -------
    pandas.DataFrame
        ``estimator``, ``method``, ``classifier``, ``efficiency``, ``n_points``, ``slope``,
        ``slope_error``, ``offset``, ``offset_error``, ``chi2``, ``ndf``; NaN where fewer than
        two distinct true counts exist.
    """
    if "signal_window" in points:
        points = points[points["signal_window"]]
    rows = []
    for estimator, column, error in ESTIMATORS:
        if column not in points:
            continue
        valid = points[np.isfinite(points[column]) & np.isfinite(points[error])]
        for (method, clf, eff), group in valid.groupby(["method", "classifier", "efficiency"]):
            row = {"estimator": estimator, "method": method, "classifier": clf}
            row |= {"efficiency": eff, "n_points": len(group)}
            rows.append(row | _line_fit(group["n_true"], group[column], group[error]))
    return pd.DataFrame(rows)


def _line_fit(x: pd.Series, y: pd.Series, error: pd.Series) -> dict[str, float]:
    x = x.to_numpy(dtype=np.float64)
    y = y.to_numpy(dtype=np.float64)
    w = 1.0 / np.maximum(error.to_numpy(dtype=np.float64), 1.0) ** 2
    if np.unique(x).size < 2:
        return dict.fromkeys(("slope", "slope_error", "offset", "offset_error", "chi2"), np.nan) | {
            "ndf": 0
        }
    design = np.c_[np.ones_like(x), x]
    cov = np.linalg.inv(design.T @ (w[:, None] * design))
    offset, slope = cov @ design.T @ (w * y)
    resid = y - offset - slope * x
    return {
        "slope": float(slope),
        "slope_error": float(np.sqrt(cov[1, 1])),
        "offset": float(offset),
        "offset_error": float(np.sqrt(cov[0, 0])),
        "chi2": float(np.sum(w * resid**2)),
        "ndf": len(x) - 2,
    }


def linearity_markdown(fits: pd.DataFrame, title: str) -> str:
    """Markdown table of :func:`fit_linearity`'s slopes and offsets."""
    lines = [
        f"# {title}",
        "",
        "Fitted signal in the SR against the true signal events passing the same cut in the",
        "same SR, over every injected data set and its signal windows (those whose SR holds at",
        f"least {SIGNAL_WINDOW_FRACTION:g} of the data set's largest SR signal): a straight-line",
        "fit weighted by the SR count's statistical uncertainty sqrt(n_obs + sigma_b^2).",
        "Estimators: *sideband*, the bump hunt's",
        "n_obs - b (the background fitted outside the SR); *signal+background*, the SR yield of",
        "a fit of the whole spectrum with the dijet function plus a Gaussian signal of the",
        "configured resolution. A closing estimate has slope 1 and offset 0.",
        "",
        "| estimator | method | classifier | keep | points | slope | offset (events) "
        "| chi2 / ndf |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in fits.itertuples():
        lines.append(
            f"| {r.estimator} | {r.method} | {r.classifier} | {r.efficiency:g} | {r.n_points} | "
            f"{r.slope:.3f} ± {r.slope_error:.3f} | {r.offset:.1f} ± {r.offset_error:.1f} | "
            f"{r.chi2:.1f} / {r.ndf} |"
        )
    return "\n".join(lines) + "\n"


def plot_linearity(points: pd.DataFrame, fits: pd.DataFrame, path: str | os.PathLike) -> None:
    """Estimated vs true signal in the signal windows: one row of panels per estimator, one
    panel per method and classifier, one colour per cut."""
    from anode_cathode.core.plotting import hep_pyplot, save_figure

    if "signal_window" in points:
        points = points[points["signal_window"]]
    estimators = [e for e in ESTIMATORS if e[1] in points]
    plt = hep_pyplot()
    combos = sorted(points.groupby(["method", "classifier"]).groups)
    fig, axes = plt.subplots(
        len(estimators),
        len(combos),
        figsize=(4.6 * len(combos), 4.4 * len(estimators)),
        squeeze=False,
    )
    for row, (estimator, column, error) in zip(axes, estimators, strict=True):
        for ax, (method, clf) in zip(row, combos, strict=True):
            mine = points[(points.method == method) & (points.classifier == clf)]
            top = max(float(mine["n_true"].max()), 1.0)
            ax.plot([0, top], [0, top], color="gray", lw=1, label="estimate = true")
            for i, (eff, group) in enumerate(mine.groupby("efficiency")):
                color = f"C{i}"
                ax.errorbar(
                    group["n_true"], group[column], group[error], fmt="o", ms=3, color=color
                )
                fit = fits[
                    (fits.estimator == estimator)
                    & (fits.method == method)
                    & (fits.classifier == clf)
                    & (fits.efficiency == eff)
                ]
                if len(fit) and np.isfinite(fit.slope.iloc[0]):
                    f = fit.iloc[0]
                    xs = np.array([0.0, float(group["n_true"].max())])
                    ax.plot(
                        xs,
                        f.offset + f.slope * xs,
                        color=color,
                        label=f"keep {eff:g}: slope {f.slope:.2f} ± {f.slope_error:.2f}",
                    )
            ax.set_title(f"{method} ({clf}), {estimator}", fontsize=12)
            ax.set_xlabel("true signal passing, SR", fontsize=11)
            ax.legend(fontsize=8)
        row[0].set_ylabel("estimated signal in the SR", fontsize=11)
    save_figure(fig, path)
