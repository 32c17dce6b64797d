"""Bump hunt in one signal-region window: score cuts per fold, sideband fit, local significance.

For every efficiency the events passing the cut are histogrammed in mjj with bins anchored at
the SR edges (:mod:`~anode_cathode.bumphunt.cuts`), the dijet function is fitted to the bins of
the fit range outside the SR (:func:`configured_fit`), the background in the SR is predicted
with its fit uncertainty and compared with the observed count
(:func:`~anode_cathode.bumphunt.significance.local_significance`).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from anode_cathode.bumphunt._json import plain
from anode_cathode.bumphunt.cuts import Threshold, apply_cut, fold_thresholds, histogram_edges
from anode_cathode.bumphunt.functions import (
    DijetFit,
    choose_fit,
    dijet_density,
    fit_dijet,
    parse_fit_model,
    predict,
)
from anode_cathode.bumphunt.significance import local_significance
from anode_cathode.data.regions import Window

__all__ = [
    "CutResult",
    "SpuriousSample",
    "configured_fit",
    "spurious_signal",
    "window_bumphunt",
    "window_bumphunt_per_cut",
]


@dataclass(frozen=True)
class SpuriousSample:
    """An independent background-only sample scored by the same models as the data.

    ``mjj``, ``score`` and ``fold`` (the model that scored each event) per event; ``scale`` is
    its size relative to the data's background (events in the fit range before any cut), so
    that counts divided by ``scale`` are in units of the data.
    """

    mjj: np.ndarray
    score: np.ndarray
    fold: np.ndarray
    scale: float


def _threshold(value: Any) -> Threshold:
    """A stored cut back to ``(score, key)``; a bare number (results written before the
    tie-break keys) keeps every tie, as it did then."""
    if isinstance(value, (list, tuple)):
        return (float(value[0]), float(value[1]))
    return (float(value), -math.inf)


@dataclass(frozen=True)
class CutResult:
    """Bump hunt of one window at one score-cut efficiency (plain lists: JSON-serialisable).

    ``counts``/``expected`` are the post-cut histogram and the sideband fit's expectation in
    every bin (``fit_mask``: bins used in the fit, ``sr_mask``: SR bins). ``params`` /
    ``covariance`` are the fit's ``(ln nu, p1, p2, ...)``, ``physics_params`` its
    ``(p0, p1, p2, ...)`` for the function ``family``. ``z``/``p0`` follow the discovery
    convention (0 / 0.5 for a deficit), ``z_signed``/``p_signed`` keep the sign (uniform p
    under the background-only hypothesis).
    """

    window: Window
    efficiency: float
    thresholds: dict[int, Threshold]
    alpha: float
    fit_model: str
    edges: list[float]
    counts: list[float]
    expected: list[float]
    fit_mask: list[bool]
    sr_mask: list[bool]
    params: list[float]
    covariance: list[list[float]]
    physics_params: list[float]
    n_params: int
    ftest_pvalue: float
    deviance: float
    chi2: float
    ndf: int
    gof_pvalue: float
    fit_valid: bool
    n_obs: float
    b: float
    sigma_b: float
    z: float
    p0: float
    z_signed: float
    p_signed: float
    exact_below: float = 0.0
    # the same cut applied to an independent background sample (:class:`SpuriousSample`),
    # fitted the same way, scaled to the data: the selection's spurious signal
    spurious_signal: float = math.nan
    spurious_variance: float = math.nan
    family: str = "dijet"
    # true signal events (label 1) passing the cut in the SR, where the data carry labels (the
    # built-in generator, labelled inputs): what n_obs - b should find (injection linearity)
    n_signal_true: float = math.nan
    # the post-cut histogram of the background events alone (label 0), where the data carry
    # labels: fitted like the data, it gives the selection's own spurious signal (empty: none)
    counts_background: list[float] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (lists, floats; ±inf/NaN as strings) for ``json.dump``."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["window"] = self.window.to_dict()
        return plain(d)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CutResult:
        """Inverse of :meth:`to_dict` (strings such as ``'inf'`` back to floats)."""
        kw = dict(d)
        kw["window"] = Window.from_dict(d["window"])
        kw["thresholds"] = {int(k): _threshold(v) for k, v in d["thresholds"].items()}
        for name in ("efficiency", "alpha", "ftest_pvalue", "deviance", "chi2", "gof_pvalue"):
            kw[name] = float(d[name])
        for name in ("n_obs", "b", "sigma_b", "z", "p0", "z_signed", "p_signed"):
            kw[name] = float(d[name])
        for name in ("exact_below", "spurious_signal", "spurious_variance", "n_signal_true"):
            if name in d:
                kw[name] = float(d[name])
        kw["counts_background"] = [float(c) for c in d.get("counts_background", [])]
        return cls(**kw)

    def density(self, mjj: np.ndarray) -> np.ndarray:
        """Fitted background as counts per TeV at ``mjj`` (smooth curve for plots)."""
        return dijet_density(mjj, self.physics_params, self.family)


def configured_fit(
    edges: np.ndarray, counts: np.ndarray, fit_mask: np.ndarray, fit_model: str, alpha: float
) -> DijetFit:
    """The configured fit: a function (``"3"``, ``"4"``, ``"5"`` parameter dijet, ``"ua2"``)
    or the F-test choice between 3 and 4 dijet parameters (``"ftest"``).

    Parameters
    ----------
    edges, counts, fit_mask
        Bin edges (TeV), counts per bin and the bins to fit.
    fit_model
        ``"ftest"``, ``"3"``, ``"4"``, ``"5"`` or ``"ua2"``.
    alpha
        F-test level (used with ``"ftest"`` only).

    Returns
    -------
    DijetFit
        The fit; a failed fit raises ``ValueError``.
    """
    if fit_model == "ftest":
        return choose_fit(edges, counts, fit_mask, alpha)
    family, n_params = parse_fit_model(fit_model)
    return fit_dijet(edges, counts, fit_mask, n_params, family=family)


def spurious_signal(
    sample: SpuriousSample,
    thresholds: Mapping[int, Threshold],
    edges: np.ndarray,
    sr: np.ndarray,
    fit_model: str,
    alpha: float,
) -> tuple[float, float]:
    """Fitted signal of a cut applied to an independent background sample, in data units.

    The events of ``sample`` passing ``thresholds`` (per fold, as set on the data) are
    histogrammed, the dijet function is fitted outside the SR as for the data, and the signal
    is (n_SR - b_SR) / scale. On pure background this is the bias of the background estimate
    that this selection causes (sculpting, a background feature the classifier prefers in the
    SR). Returns the signal and its statistical variance (n_SR + σ_b²) / scale²; NaNs when
    the fit fails.
    """
    in_range = (sample.mjj >= edges[0]) & (sample.mjj < edges[-1])
    keep = apply_cut(sample.score, sample.fold, thresholds) & in_range
    counts = np.histogram(sample.mjj[keep], edges)[0].astype(np.float64)
    try:
        fit = configured_fit(edges, counts, ~sr, fit_model, alpha)
        b, sigma_b = predict(fit, sr)
    except ValueError:
        return math.nan, math.nan
    n = float(counts[sr].sum())
    return (n - b) / sample.scale, (n + sigma_b**2) / sample.scale**2


def _cut_result(
    window: Window,
    eff: float,
    thr: dict[int, Threshold],
    alpha: float,
    edges: np.ndarray,
    counts: np.ndarray,
    sr: np.ndarray,
    fit_model: str,
    exact_below: float = 0.0,
    spurious: SpuriousSample | None = None,
    n_signal_true: float = math.nan,
    counts_background: np.ndarray | None = None,
) -> CutResult:
    fit_mask = ~sr
    fit = configured_fit(edges, counts, fit_mask, fit_model, alpha)
    b, sigma_b = predict(fit, sr)
    n_obs = float(counts[sr].sum())
    z, p0 = local_significance(n_obs, b, sigma_b, exact_below=exact_below)
    zs, ps = local_significance(n_obs, b, sigma_b, signed=True, exact_below=exact_below)
    spur = (math.nan, math.nan)
    if spurious is not None:
        spur = spurious_signal(spurious, thr, edges, sr, fit_model, alpha)
    return CutResult(
        window=window,
        efficiency=float(eff),
        thresholds=thr,
        alpha=float(alpha),
        fit_model=fit_model,
        edges=edges.tolist(),
        counts=counts.tolist(),
        expected=fit.expected.tolist(),
        fit_mask=fit_mask.tolist(),
        sr_mask=sr.tolist(),
        params=fit.params.tolist(),
        covariance=fit.covariance.tolist(),
        physics_params=fit.physics_params().tolist(),
        n_params=fit.n_params,
        family=fit.family,
        ftest_pvalue=fit.ftest_pvalue,
        deviance=fit.deviance,
        chi2=fit.chi2,
        ndf=fit.ndf,
        gof_pvalue=fit.gof_pvalue,
        fit_valid=fit.valid,
        n_obs=n_obs,
        b=b,
        sigma_b=sigma_b,
        z=z,
        p0=p0,
        z_signed=zs,
        p_signed=ps,
        exact_below=float(exact_below),
        spurious_signal=spur[0],
        spurious_variance=spur[1],
        n_signal_true=float(n_signal_true),
        counts_background=[] if counts_background is None else counts_background.tolist(),
    )


def window_bumphunt(
    mjj: np.ndarray,
    score: np.ndarray,
    fold: np.ndarray,
    window: Window,
    fit_range: tuple[float, float],
    bin_width: float,
    efficiencies: Sequence[float] = (1.0, 0.1, 0.01, 0.001),
    alpha: float = 0.05,
    fit_model: str = "4",
) -> list[CutResult]:
    """Bump hunt in one SR window for each score-cut efficiency.

    Parameters
    ----------
    mjj, score, fold
        Per event: dijet mass (TeV), out-of-fold anomaly score, fold index of the model that
        scored it.
    window
        The signal region; its edges become bin edges.
    fit_range
        ``(lo, hi)`` in TeV; must start above the trigger turn-on (a rising spectrum at the
        low edge triggers a warning).
    bin_width
        Bin width in TeV; must divide the SR width.
    efficiencies
        Fractions of events (per fold, among events in the fit range) kept by the cuts.
    alpha
        Level of the F-test between the 3- and 4-parameter dijet functions.
    fit_model
        ``"ftest"`` (3 or 4 parameters by the F-test), ``"3"`` or ``"4"``.

    Returns
    -------
    list of CutResult
        One per efficiency, in the given order.

    Raises
    ------
    ValueError
        Inconsistent inputs, bad binning, or a fit that fails (e.g. an empty spectrum after a
        tight cut); the message names the window and the efficiency.
    """
    results = []
    for outcome in _cut_outcomes(
        mjj, score, fold, window, fit_range, bin_width, efficiencies, alpha, fit_model
    ):
        if isinstance(outcome, ValueError):
            raise outcome
        results.append(outcome)
    return results


def _cut_outcomes(
    mjj: np.ndarray,
    score: np.ndarray,
    fold: np.ndarray,
    window: Window,
    fit_range: tuple[float, float],
    bin_width: float,
    efficiencies: Sequence[float],
    alpha: float,
    fit_model: str,
    exact_below: float = 0.0,
    spurious: SpuriousSample | None = None,
    label: np.ndarray | None = None,
) -> Iterator[CutResult | ValueError]:
    """Per efficiency, the cut's result or the ``ValueError`` (naming window and efficiency)
    of its failed fit; inputs and binning are checked once, before the first cut."""
    mjj = np.asarray(mjj, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    fold = np.asarray(fold)
    if not (mjj.shape == score.shape == fold.shape) or mjj.ndim != 1:
        raise ValueError("mjj, score and fold must be 1-d arrays of the same length")
    if not np.all(np.isfinite(mjj)):
        raise ValueError("mjj contains NaN/inf")
    edges, sr = histogram_edges(window, fit_range, bin_width)
    in_range = (mjj >= edges[0]) & (mjj < edges[-1])
    signal = None if label is None else np.asarray(label) == 1
    if signal is not None and signal.shape != mjj.shape:
        raise ValueError(f"label has shape {signal.shape}, expected {mjj.shape}")
    for eff in efficiencies:
        try:
            thr = fold_thresholds(score, fold, eff, in_range)
            passed = apply_cut(score, fold, thr) & in_range
            counts = np.histogram(mjj[passed], edges)[0].astype(np.float64)
            n_true, counts_background = math.nan, None
            if signal is not None:
                counts_signal = np.histogram(mjj[passed & signal], edges)[0]
                n_true = float(counts_signal[sr].sum())
                counts_background = counts - counts_signal
            _warn_turn_on(counts, window, eff)
            yield _cut_result(
                window,
                eff,
                thr,
                alpha,
                edges,
                counts,
                sr,
                fit_model,
                exact_below,
                spurious,
                n_signal_true=n_true,
                counts_background=counts_background,
            )
        except ValueError as exc:
            error = ValueError(f"window {window.name}, efficiency {eff:g}: {exc}")
            error.__cause__ = exc
            yield error


def window_bumphunt_per_cut(
    mjj: np.ndarray,
    score: np.ndarray,
    fold: np.ndarray,
    window: Window,
    fit_range: tuple[float, float],
    bin_width: float,
    efficiencies: Sequence[float],
    alpha: float,
    fit_model: str,
    exact_below: float = 0.0,
    spurious: SpuriousSample | None = None,
    label: np.ndarray | None = None,
) -> tuple[list[CutResult], list[dict[str, Any]]]:
    """:func:`window_bumphunt`, recording the cuts whose fit fails instead of raising.

    A cut whose fit fails is reported, never turned into a number, and does not stop the
    other cuts; bad inputs or binning still raise ``ValueError``. ``exact_below``: see
    :func:`~anode_cathode.bumphunt.significance.local_significance`; with ``spurious`` every
    cut also records its spurious signal (:func:`spurious_signal`); with ``label`` (1 for
    signal events) the number of true signal events it keeps in the SR.

    Returns
    -------
    results : list of CutResult
        The cuts whose fit succeeded, in the given order.
    errors : list of dict
        ``{"efficiency": eff, "error": message}`` for every cut that raised ``ValueError``.
    """
    results: list[CutResult] = []
    errors: list[dict[str, Any]] = []
    outcomes = _cut_outcomes(
        mjj,
        score,
        fold,
        window,
        fit_range,
        bin_width,
        efficiencies,
        alpha,
        fit_model,
        exact_below,
        spurious,
        label,
    )
    for eff, outcome in zip(efficiencies, outcomes, strict=True):
        if isinstance(outcome, ValueError):
            errors.append({"efficiency": eff, "error": str(outcome)})
        else:
            results.append(outcome)
    return results, errors


def _warn_turn_on(counts: np.ndarray, window: Window, eff: float) -> None:
    """Warn when the spectrum rises significantly over the first bins (trigger turn-on)."""
    first, second = counts[:2].sum(), counts[2:4].sum()
    if counts.size >= 4 and second - first > 3.0 * math.sqrt(max(second + first, 1.0)):
        warnings.warn(
            f"window {window.name}, efficiency {eff:g}: the mjj spectrum rises over the first "
            "bins of the fit range; start the fit range above the trigger turn-on",
            stacklevel=3,
        )
