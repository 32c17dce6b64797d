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

Three estimators of the signal are fitted against the truth: the bump hunt's own n_obs - b
(``sideband``); the SR yield of a signal-plus-background fit of the same post-cut spectrum
with a Gaussian of the configured resolution (``signal+background``,
:mod:`anode_cathode.bumphunt.signal_fit`), which counts the signal that leaks into the
sidebands instead of taking it for background; and the same fit with the signal's own
post-cut m_JJ shape from the labels (``signal template``), as an analysis would take it
from its signal simulation, which also counts the low-mass tail a Gaussian lacks.

A cut can sculpt the background itself: a classifier whose background efficiency changes
with m_JJ (jet masses grow with it) bends the post-cut spectrum, and either estimator then
finds events where no signal is (the selection's spurious signal). With the fixed-fraction
cuts of the bump hunt this is not a constant offset: the more signal passes, the fewer
background events the same fraction keeps, so the spurious part changes with the signal and
tilts the line. The labels pick the selection's background events, and the same estimator
applied to their spectrum alone is that spurious part; the *response* estimators subtract it
and measure what the estimator adds for the signal that is there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from anode_cathode.bumphunt.functions import predict
from anode_cathode.bumphunt.signal_fit import fit_signal_plus_background, fit_signal_template
from anode_cathode.bumphunt.window import CutResult, configured_fit

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
#: The response estimators (module docstring) keep that weight: their common background part
#: is subtracted, so the weight overstates their scatter and their slope errors are
#: conservative.
ESTIMATORS = (
    ("sideband", "fitted", "error"),
    ("signal+background", "fitted_splusb", "error"),
    ("signal template", "fitted_template", "error"),
    ("sideband response", "response", "error"),
    ("signal+background response", "response_splusb", "error"),
    ("signal template response", "response_template", "error"),
)


def _splusb(cut: CutResult, width: float, counts: Sequence[float]) -> tuple[float, float]:
    """SR signal yield and uncertainty of the signal-plus-background fit of ``counts`` (the
    cut's spectrum or its background part; NaN if the fit fails)."""
    try:
        fit = fit_signal_plus_background(
            cut.edges, counts, cut.fit_mask, cut.sr_mask, cut.fit_model, width
        )
    except ValueError:
        return float("nan"), float("nan")
    return fit.signal_sr, fit.signal_sr_error


def _template(cut: CutResult, counts: Sequence[float]) -> float:
    """SR signal yield of the fit of ``counts`` with the cut's true signal shape (its spectrum
    minus its background part); NaN without signal or if the fit fails."""
    template = np.asarray(cut.counts) - np.asarray(cut.counts_background)
    try:
        fit = fit_signal_template(
            cut.edges, counts, cut.fit_mask, cut.sr_mask, cut.fit_model, template
        )
    except ValueError:
        return float("nan")
    return fit.signal_sr


def _sideband_excess(cut: CutResult, counts: Sequence[float]) -> float:
    """n_obs - b of ``counts`` with the cut's sideband fit (NaN if the fit fails)."""
    edges, counts = np.asarray(cut.edges), np.asarray(counts, dtype=np.float64)
    sr = np.asarray(cut.sr_mask, dtype=bool)
    try:
        fit = configured_fit(edges, counts, np.asarray(cut.fit_mask), cut.fit_model, cut.alpha)
    except ValueError:
        return float("nan")
    return float(counts[sr].sum() - predict(fit, sr)[0])


def _estimates(cut: CutResult, signal_width: float | None) -> dict[str, float]:
    """The estimators' columns of one cut (:data:`ESTIMATORS`): the data's estimates and,
    where the result keeps its background part, the responses."""
    row = {"fitted": cut.n_obs - cut.b}
    background = cut.counts_background
    if background:
        row["response"] = row["fitted"] - _sideband_excess(cut, background)
        row["fitted_template"] = _template(cut, cut.counts)
        row["response_template"] = row["fitted_template"] - _template(cut, background)
    if signal_width is not None:
        row["fitted_splusb"], row["error_splusb"] = _splusb(cut, signal_width, cut.counts)
        if background:
            row["response_splusb"] = (
                row["fitted_splusb"] - _splusb(cut, signal_width, background)[0]
            )
    return row


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
    Results that keep the background part of their spectrum (``counts_background``) add
    ``fitted_template`` (the fit with the true signal shape), ``response``,
    ``response_template`` and, with ``signal_width``, ``response_splusb``: each estimate minus
    the same estimate of the background part alone.

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
                    "error": float(np.sqrt(cut.n_obs + cut.sigma_b**2)),
                }
                | _estimates(cut, signal_width)
            )
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
        "configured resolution; *signal template*, the same fit with the signal's own",
        "post-cut m_JJ shape (from the labels). A closing estimate has slope 1 and offset 0.",
        "*response*: the estimate minus the same estimate of the selection's background events",
        "alone (picked by the truth labels), i.e. without the selection's own spurious signal;",
        "its errors are conservative (the common background part is subtracted, the weight",
        "keeps it).",
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
    """Estimated vs true signal in the signal windows: one row of panels per estimator (its
    response as open markers beside it), one panel per method and classifier, one colour per
    cut."""
    from anode_cathode.core.plotting import hep_pyplot, save_figure

    if "signal_window" in points:
        points = points[points["signal_window"]]
    columns = {name: column for name, column, _ in ESTIMATORS if column in points}
    rows = [name for name in columns if not name.endswith(" response")]
    plt = hep_pyplot()
    combos = sorted(points.groupby(["method", "classifier"]).groups)
    fig, axes = plt.subplots(
        len(rows), len(combos), figsize=(4.6 * len(combos), 4.4 * len(rows)), squeeze=False
    )
    for ax_row, estimator in zip(axes, rows, strict=True):
        for ax, (method, clf) in zip(ax_row, combos, strict=True):
            mine = points[(points.method == method) & (points.classifier == clf)]
            top = max(float(mine["n_true"].max()), 1.0)
            ax.plot([0, top], [0, top], color="gray", lw=1, label="estimate = true")
            for i, (_, group) in enumerate(mine.groupby("efficiency")):
                for name, filled in ((estimator, True), (f"{estimator} response", False)):
                    if name in columns:
                        _plot_estimator(ax, fits, group, name, columns[name], f"C{i}", filled)
            ax.set_title(f"{method} ({clf}), {estimator}", fontsize=12)
            ax.set_xlabel("true signal passing, SR", fontsize=11)
            ax.legend(fontsize=7)
        ax_row[0].set_ylabel("estimated signal in the SR (open: response)", fontsize=11)
    fig.tight_layout()  # keeps each row's axis labels clear of the next row's titles
    save_figure(fig, path)


def _plot_estimator(ax, fits, group, estimator, column, color, filled) -> None:
    """Points and fitted line of one estimator and cut in one panel."""
    eff, method, clf = group.efficiency.iloc[0], group.method.iloc[0], group.classifier.iloc[0]
    ax.errorbar(
        group["n_true"],
        group[column],
        group["error"],
        fmt="o",
        ms=3,
        color=color,
        mfc=color if filled else "none",
        alpha=1.0 if filled else 0.6,
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
        kind = "" if filled else " resp."
        ax.plot(
            xs,
            f.offset + f.slope * xs,
            color=color,
            ls="-" if filled else "--",
            label=f"keep {eff:g}{kind}: slope {f.slope:.2f} ± {f.slope_error:.2f}",
        )
