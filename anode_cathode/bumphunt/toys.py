"""Background-only pseudo-experiments of a scan, for its global p-value."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from anode_cathode.bumphunt.functions import choose_fit, fit_dijet, predict
from anode_cathode.bumphunt.significance import local_significance
from anode_cathode.bumphunt.window import CutResult, configured_fit

__all__ = ["MAX_FAILED_FRACTION", "ToyScan", "background_toys", "check_toy_failures"]

#: Largest tolerated fraction of failed toy fits per window; beyond it the global p-value
#: would describe the toys that happen to fit, not the procedure.
MAX_FAILED_FRACTION = 0.05


@dataclass(frozen=True)
class ToyScan:
    """Local significances of background-only pseudo-experiments.

    ``z`` has shape ``(n_toys, n_results)`` (NaN where a toy fit failed); ``max_z`` is the
    maximum local Z over the results of each toy.
    """

    z: np.ndarray

    @property
    def n_failed(self) -> int:
        """Number of failed toy fits, over all toys and results."""
        return int(np.isnan(self.z).sum())

    @property
    def max_z(self) -> np.ndarray:
        """Maximum local Z over the results of each toy (NaN when every fit of a toy failed)."""
        z = np.where(np.isnan(self.z), -np.inf, self.z).max(axis=1)
        return np.where(np.isfinite(z), z, np.nan)

    @property
    def failed_per_result(self) -> np.ndarray:
        """Number of failed toy fits of each result, shape ``(n_results,)``."""
        return np.isnan(self.z).sum(axis=0)


def background_toys(
    results: Sequence[CutResult],
    n_toys: int,
    rng: np.random.Generator,
    *,
    refit: Literal["choose", "same"] = "choose",
) -> ToyScan:
    """Background-only pseudo-experiments for the global p-value of a scan.

    For each result (window × cut): fit the dijet function to *all* bins of the fit range
    (SR included; F-test choice as in the nominal fit), draw ``n_toys`` Poisson spectra from
    it, and rerun the SR-excluded fit (``refit="choose"``: the full F-test procedure;
    ``"same"``: the nominal number of parameters only, faster) and the local significance.
    Fits are warm-started from the background-only fit. A toy fit that fails gives NaN and
    is counted in ``n_failed`` (see :func:`check_toy_failures`).

    Each result gets its own independent toys, so the correlation between windows (and
    between nested cuts) is ignored: overlapping windows are positively correlated (the
    maximum over independent toys then has the heavier tail), but a window's SR lies in its
    neighbours' sideband fits, a negative correlation, so the result is not guaranteed to be
    conservative. The selection stays fixed: the spread that training on the data adds is
    missing (see :mod:`anode_cathode.bumphunt.calibration`). Pass the results of one cut for
    a per-cut global p-value.

    Prefer ``"choose"``: when the true curvature lies near the F-test's sensitivity, the
    3/4-parameter choice itself biases the prediction (toy local Z spread ≈ 1.1–1.2 instead of
    1 was seen on generator spectra after a 10 % cut), and only the full procedure carries that
    into the global p-value.

    Parameters
    ----------
    results
        The nominal results of the scan (their spectra, SR and fit settings).
    n_toys
        Pseudo-experiments per result (``>= 1``).
    rng
        Source of the Poisson draws.
    refit
        ``"choose"`` or ``"same"``, see above.

    Returns
    -------
    ToyScan
        Local Z of every toy and result.
    """
    if n_toys < 1:
        raise ValueError(f"n_toys must be >= 1, got {n_toys}")
    if refit not in ("choose", "same"):
        raise ValueError(f"refit must be 'choose' or 'same', got {refit!r}")
    z = np.full((n_toys, len(results)), np.nan)
    for j, res in enumerate(results):
        edges = np.asarray(res.edges)
        counts = np.asarray(res.counts)
        sr = np.asarray(res.sr_mask, dtype=bool)
        fit_mask = np.asarray(res.fit_mask, dtype=bool)
        everything = np.ones_like(sr)
        truth = configured_fit(edges, counts, everything, res.fit_model, res.alpha)
        starts = {truth.n_params: truth.params}
        if res.fit_model == "ftest":  # the F-test refits both: warm-start both
            for n in {3, 4} - set(starts):
                with contextlib.suppress(ValueError):
                    starts[n] = fit_dijet(edges, counts, everything, n, start=None).params
        toys = rng.poisson(truth.expected, size=(n_toys, truth.expected.size)).astype(float)
        for i, toy in enumerate(toys):
            try:
                if refit == "choose" and res.fit_model == "ftest":
                    fit = choose_fit(
                        edges, toy, fit_mask, res.alpha, start3=starts.get(3), start4=starts.get(4)
                    )
                else:
                    fit = fit_dijet(
                        edges,
                        toy,
                        fit_mask,
                        res.n_params,
                        start=starts.get(res.n_params),
                        family=res.family,
                    )
                b, sigma_b = predict(fit, sr)
                n_sr = float(toy[sr].sum())
                z[i, j] = local_significance(n_sr, b, sigma_b, exact_below=res.exact_below)[0]
            except ValueError:
                continue  # counted below; check_toy_failures decides whether that is too many
    return ToyScan(z)


def check_toy_failures(
    toys: ToyScan,
    results: Sequence[CutResult],
    context: str = "",
    max_fraction: float = MAX_FAILED_FRACTION,
) -> None:
    """Raise when more than ``max_fraction`` of the toy fits of any result failed.

    Parameters
    ----------
    toys
        The output of :func:`background_toys` for ``results``.
    results
        The results the toys were made for (their windows name the culprit).
    context
        Prefix of the message, e.g. the method and the cut.
    max_fraction
        Tolerated fraction of failed fits per result.

    Raises
    ------
    ValueError
        Naming the window, ``context`` and the number of failed fits.
    """
    n_toys = toys.z.shape[0]
    for res, n_failed in zip(results, toys.failed_per_result, strict=True):
        if n_failed > max_fraction * n_toys:
            raise ValueError(
                f"{context}window {res.window.name}: {int(n_failed)} of {n_toys} "
                f"background-only toy fits failed (more than {100 * max_fraction:g} %); the "
                "global p-value would be biased: loosen the cut or widen the fit range"
            )
