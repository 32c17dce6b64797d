"""Smooth dijet background functions and their binned Poisson maximum-likelihood fit.

One idea (the functions, their integrals, fit and prediction), hence one module despite its
length.

Two families of smooth falling shapes (docs/bumphunt.md), both log-linear in their shape
parameters, so one fit serves both:

* the standard dijet function with 3, 4 or 5 parameters (``family="dijet"``),

      f(x) = p0 (1 - x)^p1 / x^(p2 + p3 ln x + p4 ln² x),   x = mjj / sqrt(s),  sqrt(s) = 13 TeV,

  with p3 = p4 = 0 (3 parameters) or p4 = 0 (4 parameters);
* the UA2 form (``family="ua2"``, 4 parameters), f(x) = p0 x^(-p1) exp(-p2 x - p3 x²).

The fit compares the function *integrated over each bin* (Gauss–Legendre quadrature) with the
observed counts through the Poisson deviance.

Parametrisation used by the fit (``DijetFit.params``): ``(ln nu, p1, p2, ...)`` where ``nu`` is
the expected number of events in the fitted bins. At the maximum ``nu`` equals the observed
number of events in those bins and is uncorrelated with the shape, which makes the fit much more
stable than fitting ``p0`` directly; ``p0`` is recovered by :meth:`DijetFit.physics_params`.
Starting values come from a weighted linear fit of the log of the observed density.

Examples
--------
>>> import numpy as np
>>> edges = np.linspace(2.8, 6.4, 37)
>>> truth = bin_integrals(edges, [1.0e-3, 10.0, 5.0])
>>> counts = np.random.default_rng(0).poisson(50_000 * truth / truth.sum())
>>> fit = fit_dijet(edges, counts, np.ones(36, dtype=bool), n_params=3)
>>> fit.valid and fit.gof_pvalue > 1e-3
True
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from iminuit import Minuit
from iminuit.warnings import IMinuitWarning
from scipy.special import xlogy
from scipy.stats import chi2 as chi2_dist
from scipy.stats import f as f_dist

__all__ = [
    "FAMILIES",
    "SQRT_S_TEV",
    "DijetFit",
    "bin_integrals",
    "choose_fit",
    "dijet_density",
    "expected_counts",
    "fit_dijet",
    "ftest_pvalue",
    "parse_fit_model",
    "predict",
]

#: Collider energy used to build x = mjj / sqrt(s).
SQRT_S_TEV = 13.0
_N_NODES = 5  # Gauss–Legendre nodes per bin
_SHAPE_NAMES = ("p1", "p2", "p3", "p4")

#: Function families and the numbers of parameters (normalisation included) each allows.
FAMILIES = {"dijet": (3, 4, 5), "ua2": (4,)}
#: Start values of the shape parameters (overridden by a linear fit of the log density).
_STARTS = {"dijet": (10.0, 5.0, 0.0, 0.0), "ua2": (5.0, 10.0, 0.0)}
_STEPS = {"dijet": (1.0, 0.2, 0.05, 0.01), "ua2": (0.2, 1.0, 1.0)}


def _check_family(family: str, n_params: int) -> None:
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {sorted(FAMILIES)}, got {family!r}")
    if n_params not in FAMILIES[family]:
        allowed = " or ".join(str(n) for n in FAMILIES[family])
        raise ValueError(f"the {family} function takes {allowed} parameters, got {n_params}")


def _basis(x: np.ndarray, family: str, n_shape: int) -> np.ndarray:
    """Basis functions of the log-shape: ln f = ln p0 + basis(x) @ shape; shape (..., n_shape)."""
    if family == "ua2":
        terms = [-np.log(x), -x, -(x**2)]
    else:
        lx = np.log(x)
        terms = [np.log1p(-x), -lx, -(lx**2), -(lx**3)]
    return np.stack(terms[:n_shape], axis=-1)


def parse_fit_model(fit_model: str) -> tuple[str, int]:
    """``(family, n_params)`` of a configured ``bumphunt.fit_model`` other than ``"ftest"``.

    Examples
    --------
    >>> parse_fit_model("4"), parse_fit_model("ua2")
    (('dijet', 4), ('ua2', 4))
    """
    if fit_model == "ua2":
        return "ua2", 4
    if fit_model in ("3", "4", "5"):
        return "dijet", int(fit_model)
    raise ValueError(f"fit_model must be 'ftest', '3', '4', '5' or 'ua2', got {fit_model!r}")


def _check_edges(edges: np.ndarray) -> np.ndarray:
    edges = np.asarray(edges, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2:
        raise ValueError("edges must be a 1-d array of at least 2 bin edges (TeV)")
    if not np.all(np.isfinite(edges)):
        raise ValueError("edges contain NaN/inf: pass finite bin edges in TeV")
    if not np.all(np.diff(edges) > 0):
        raise ValueError("edges must be strictly increasing")
    if edges[0] <= 0.0 or edges[-1] >= SQRT_S_TEV:
        raise ValueError(
            f"edges must lie inside (0, {SQRT_S_TEV}) TeV (x = mjj/sqrt(s) in (0, 1)), "
            f"got [{edges[0]}, {edges[-1]}]: are the masses in TeV?"
        )
    return edges


class _Model:
    """Bin integrals of a shape family and their derivatives, for fixed bin edges."""

    def __init__(self, edges: np.ndarray, n_params: int, family: str = "dijet") -> None:
        _check_family(family, n_params)
        self.n_params, self.family = n_params, family
        nodes, weights = np.polynomial.legendre.leggauss(_N_NODES)
        lo, hi = edges[:-1, None] / SQRT_S_TEV, edges[1:, None] / SQRT_S_TEV
        x = 0.5 * (hi + lo) + 0.5 * (hi - lo) * nodes  # (n_bins, n_nodes)
        self.weights = 0.5 * (hi - lo) * weights
        self.basis = _basis(x, family, n_params - 1)  # (n_bins, n_nodes, n_shape)

    def integrals(self, shape: np.ndarray, shift_mask: np.ndarray) -> tuple[np.ndarray, float]:
        """Bin integrals of exp(basis @ shape - shift), shift = max of the log over the bins
        selected by ``shift_mask``."""
        logg = self.basis @ shape
        shift = float(np.max(logg[shift_mask]))
        return np.sum(self.weights * np.exp(logg - shift), axis=1), shift

    def expected(
        self, theta: np.ndarray, fit_mask: np.ndarray, order: int = 0
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Expected counts in every bin, normalised to exp(theta[0]) in the fit bins, and for
        ``order`` >= 1 (2) their first (second) derivatives with respect to theta, shapes
        (n_bins, n_params) and (n_bins, n_params, n_params)."""
        shape = theta[1:]
        logg = self.basis @ shape
        g = self.weights * np.exp(logg - np.max(logg[fit_mask]))
        integ = g.sum(axis=1)
        total = integ[fit_mask].sum()
        mu = np.exp(theta[0]) * integ / total  # inf, not an exception, past float range
        if order == 0:
            return mu, None, None
        d_integ = np.einsum("bk,bkj->bj", g, self.basis)  # dI_i/dp_j
        d_total = d_integ[fit_mask].sum(axis=0)
        dlog = np.ones((mu.size, self.n_params))
        dlog[:, 1:] = d_integ / integ[:, None] - d_total / total
        dmu = mu[:, None] * dlog
        if order == 1:
            return mu, dmu, None
        d2_integ = np.einsum("bk,bkj,bkl->bjl", g, self.basis, self.basis)
        d2_total = d2_integ[fit_mask].sum(axis=0)
        rel = d_integ / integ[:, None]
        d2log = np.zeros((mu.size, self.n_params, self.n_params))
        d2log[:, 1:, 1:] = (
            d2_integ / integ[:, None, None]
            - rel[:, :, None] * rel[:, None, :]
            - (d2_total / total - np.outer(d_total, d_total) / total**2)
        )
        d2mu = mu[:, None, None] * (dlog[:, :, None] * dlog[:, None, :] + d2log)
        return mu, dmu, d2mu


def expected_counts(
    edges: np.ndarray, theta: np.ndarray, norm_mask: np.ndarray, n_params: int, family: str
) -> np.ndarray:
    """Expected counts in every bin for fit parameters ``theta`` = (ln nu, p1, ...), with nu
    the expected number of events in the bins of ``norm_mask`` (the parametrisation of
    :class:`DijetFit`)."""
    model = _cached_model(tuple(np.asarray(edges, dtype=np.float64).tolist()), n_params, family)
    return model.expected(np.asarray(theta, dtype=np.float64), np.asarray(norm_mask, bool))[0]


@functools.lru_cache(maxsize=64)
def _cached_model(edges: tuple[float, ...], n_params: int, family: str = "dijet") -> _Model:
    return _Model(np.asarray(edges), n_params, family)


class _Deviance:
    """Poisson deviance 2 Σ (mu - n + n ln(n/mu)) over the fit bins (errordef 1), with its
    analytic gradient and Hessian."""

    def __init__(self, model: _Model, counts: np.ndarray, fit_mask: np.ndarray) -> None:
        self.model, self.counts, self.fit_mask = model, counts, fit_mask
        self.n = counts[fit_mask]

    def __call__(self, theta: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            mu = self.model.expected(np.asarray(theta), self.fit_mask)[0][self.fit_mask]
            value = 2.0 * float(np.sum(mu - self.n + xlogy(self.n, self.n / mu)))
        return value if math.isfinite(value) else 1e300

    def grad(self, theta: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            mu, dmu, _ = self.model.expected(np.asarray(theta), self.fit_mask, order=1)
            assert dmu is not None
            m = self.fit_mask
            out = 2.0 * ((1.0 - self.n / mu[m]) @ dmu[m])
        return np.where(np.isfinite(out), out, 0.0)

    def hessian(self, theta: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            mu, dmu, d2mu = self.model.expected(np.asarray(theta), self.fit_mask, order=2)
            assert dmu is not None and d2mu is not None
            m = self.fit_mask
            mu, dmu, d2mu = mu[m], dmu[m], d2mu[m]
            w = self.n / mu**2
            out = 2.0 * (
                np.einsum("b,bj,bk->jk", w, dmu, dmu)
                + np.einsum("b,bjk->jk", 1.0 - self.n / mu, d2mu)
            )
        return np.where(np.isfinite(out), out, 0.0)

    def g2(self, theta: np.ndarray) -> np.ndarray:
        """Diagonal of the Hessian (Minuit2 asks for it in some fallback paths)."""
        return np.diag(self.hessian(theta)).copy()


@dataclass(frozen=True, eq=False)
class DijetFit:
    """Result of a binned Poisson fit of a dijet-spectrum function.

    Attributes
    ----------
    params
        ``(ln nu, p1, p2, ...)``; ``nu`` = expected events in the fit bins.
    covariance
        HESSE covariance of ``params``.
    n_params
        Number of parameters (normalisation included): 3, 4 or 5 for the dijet function, 4
        for UA2.
    edges, counts, fit_mask
        The binned input; ``fit_mask`` selects the bins used in the fit.
    expected
        Expected counts of the fitted function in *every* bin (also the excluded ones).
    deviance, chi2, ndf, gof_pvalue
        Poisson deviance and Pearson chi2 over the fit bins, ``ndf = n_fit_bins - n_params`` and
        the goodness-of-fit p-value ``P(chi2_ndf > deviance)`` (asymptotic: reliable when most
        fit bins hold more than a few events).
    valid
        Minuit reports a valid minimum and an accurate covariance.
    ftest_pvalue
        Set by :func:`choose_fit`: p-value of the F-test of 3 against 4 parameters (NaN when
        the test could not be made).
    family
        ``"dijet"`` or ``"ua2"`` (:data:`FAMILIES`).
    """

    params: np.ndarray
    covariance: np.ndarray
    n_params: int
    edges: np.ndarray
    counts: np.ndarray
    fit_mask: np.ndarray
    expected: np.ndarray
    deviance: float
    chi2: float
    ndf: int
    gof_pvalue: float
    valid: bool
    ftest_pvalue: float = math.nan
    family: str = "dijet"

    @property
    def _model(self) -> _Model:
        return _cached_model(tuple(self.edges.tolist()), self.n_params, self.family)

    @property
    def errors(self) -> np.ndarray:
        """1σ uncertainties of :attr:`params`."""
        return np.sqrt(np.diag(self.covariance))

    def physics_params(self) -> np.ndarray:
        """``(p0, p1, ...)`` of the fitted function (module docstring) as counts per unit x.

        A fit whose shape makes the function tiny over the fit range (few events after a tight
        cut) can need a ``p0`` beyond the float range; it is then ``inf`` (the fit itself, in
        ``ln nu``, is fine)."""
        shape = self.params[1:]
        integ, shift = self._model.integrals(shape, self.fit_mask)
        log_p0 = self.params[0] - math.log(integ[self.fit_mask].sum()) - shift
        with np.errstate(over="ignore"):
            return np.array([np.exp(log_p0), *shape])

    def density(self, mjj: np.ndarray) -> np.ndarray:
        """Fitted function at ``mjj`` (TeV) as expected counts per TeV (for smooth curves)."""
        return dijet_density(mjj, self.physics_params(), self.family)


def _check_inputs(
    edges: np.ndarray, counts: np.ndarray, fit_mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    edges = _check_edges(edges)
    counts = np.asarray(counts, dtype=np.float64)
    fit_mask = np.asarray(fit_mask)
    n_bins = edges.size - 1
    if counts.shape != (n_bins,):
        raise ValueError(f"counts has shape {counts.shape}, expected ({n_bins},) from the edges")
    if fit_mask.shape != (n_bins,) or fit_mask.dtype != bool:
        raise ValueError(f"fit_mask must be a boolean array of shape ({n_bins},)")
    if not np.all(np.isfinite(counts)):
        raise ValueError("counts contain NaN/inf: histogram finite event counts")
    if np.any(counts < 0):
        raise ValueError("counts must be >= 0 (event counts per bin)")
    return edges, counts, fit_mask


def _start(model: _Model, edges: np.ndarray, counts: np.ndarray, fit_mask: np.ndarray):
    """Start values and step sizes from a weighted linear fit of ln(density) in the bins."""
    n_shape = model.n_params - 1
    use = fit_mask & (counts > 0)
    theta = np.array([math.log(counts[fit_mask].sum()), *_STARTS[model.family][:n_shape]])
    steps = np.array([0.01, *_STEPS[model.family][:n_shape]])
    if use.sum() > n_shape + 1:
        centre = model.basis[:, _N_NODES // 2, :]
        design = np.column_stack([np.ones(use.sum()), centre[use]])
        y = np.log(counts[use] / np.diff(edges)[use])
        w = counts[use]
        cov_inv = design.T @ (design * w[:, None])
        try:
            coef = np.linalg.solve(cov_inv, design.T @ (w * y))
            err = np.sqrt(np.diag(np.linalg.inv(cov_inv)))
        except np.linalg.LinAlgError:
            return theta, steps
        if np.all(np.isfinite(coef)) and np.all(np.isfinite(err)):
            theta[1:], steps[1:] = coef[1:], np.maximum(err[1:], 1e-3)
    return theta, steps


def fit_dijet(
    edges: Sequence[float] | np.ndarray,
    counts: Sequence[float] | np.ndarray,
    fit_mask: Sequence[bool] | np.ndarray,
    n_params: int = 3,
    *,
    start: Sequence[float] | np.ndarray | None = None,
    family: str = "dijet",
) -> DijetFit:
    """Binned Poisson maximum-likelihood fit of a dijet-spectrum function (MIGRAD + HESSE).

    Parameters
    ----------
    edges
        Bin edges in TeV (strictly increasing, inside (0, 13) TeV).
    counts
        Observed events per bin (>= 0, finite).
    fit_mask
        Boolean mask of the bins used in the fit (e.g. the fit range without the SR); at least
        ``n_params + 2`` bins.
    n_params
        Number of parameters: 3, 4 or 5 for the dijet function, 4 for UA2.
    start
        Optional starting ``(ln nu, p1, p2, ...)`` (warm start, e.g. from a nominal fit); the
        normalisation is always restarted at the observed count.
    family
        ``"dijet"`` (default) or ``"ua2"``, see the module docstring.

    Returns
    -------
    DijetFit

    Raises
    ------
    ValueError
        Bad input, too few fit bins, no events in the fit bins, or a fit that does not converge
        to a valid minimum with a finite covariance.
    """
    edges, counts, fit_mask = _check_inputs(edges, counts, fit_mask)
    _check_family(family, n_params)
    model = _cached_model(tuple(edges.tolist()), n_params, family)
    what = f"{n_params}-parameter {family} fit"
    need = n_params + 2
    n_fit = int(fit_mask.sum())
    if n_fit < need:
        raise ValueError(
            f"only {n_fit} fit bins for a {what} (need >= {need}): "
            "widen the fit range, use narrower bins or fewer parameters"
        )
    n_events = counts[fit_mask].sum()
    if n_events <= 0:
        raise ValueError(
            "no events in the fit bins: the score cut or the fit range leaves an empty "
            "spectrum; use a looser cut (higher efficiency) or a wider fit range"
        )
    theta0, steps = _start(model, edges, counts, fit_mask)
    if start is not None:
        start = np.asarray(start, dtype=np.float64)
        if start.shape != (n_params,) or not np.all(np.isfinite(start)):
            raise ValueError(f"start must hold {n_params} finite values, got {start}")
        theta0 = start.copy()
    theta0[0] = math.log(n_events)
    steps[0] = 1.0 / math.sqrt(n_events)

    cost = _Deviance(model, counts, fit_mask)
    names = ("ln_nu", *_SHAPE_NAMES[: n_params - 1])
    with warnings.catch_warnings():
        # Minuit2 calls g2 in some fallback paths (a wild low-statistics 4-parameter fit
        # failed without it); iminuit warns that the Hessian makes g2 redundant.
        warnings.simplefilter("ignore", IMinuitWarning)
        m = Minuit(cost, theta0, grad=cost.grad, g2=cost.g2, hessian=cost.hessian, name=names)
    m.errordef = Minuit.LEAST_SQUARES
    m.errors = steps
    m.migrad()
    if not m.valid:
        m.strategy = 2
        m.migrad()
    if not m.valid:
        raise ValueError(
            f"{what} did not converge (edm {m.fmin.edm:.3g}): "
            "check the spectrum (falling, above the trigger turn-on) or use fewer parameters"
        )
    m.hesse()
    params = np.array(m.values)
    cov = np.array(m.covariance)
    if not (np.all(np.isfinite(params)) and np.all(np.isfinite(cov))):
        raise ValueError(f"{what} gave non-finite parameters/covariance")
    mu = model.expected(params, fit_mask)[0]
    n = counts[fit_mask]
    deviance = 2.0 * float(np.sum(mu[fit_mask] - n + xlogy(n, n / mu[fit_mask])))
    chi2 = float(np.sum((n - mu[fit_mask]) ** 2 / mu[fit_mask]))
    ndf = n_fit - n_params
    gof = float(chi2_dist.sf(deviance, ndf)) if ndf > 0 else math.nan
    return DijetFit(
        params=params,
        covariance=cov,
        n_params=n_params,
        edges=edges,
        counts=counts,
        fit_mask=fit_mask,
        expected=mu,
        deviance=deviance,
        chi2=chi2,
        ndf=ndf,
        gof_pvalue=gof,
        valid=bool(m.valid and m.fmin.has_accurate_covar),
        family=family,
    )


def ftest_pvalue(fit3: DijetFit, fit4: DijetFit) -> float:
    """F-test p-value of the nested 3- against 4-parameter fit.

    F = (D3 - D4) / (D4 / ndf4) with D the Poisson deviance; p = P(F(1, ndf4) > F).
    """
    if fit4.ndf <= 0 or fit4.deviance <= 0:
        return math.nan
    stat = max(fit3.deviance - fit4.deviance, 0.0) / (fit4.deviance / fit4.ndf)
    return float(f_dist.sf(stat, 1, fit4.ndf))


def choose_fit(
    edges: Sequence[float] | np.ndarray,
    counts: Sequence[float] | np.ndarray,
    fit_mask: Sequence[bool] | np.ndarray,
    alpha: float = 0.05,
    *,
    start3: Sequence[float] | np.ndarray | None = None,
    start4: Sequence[float] | np.ndarray | None = None,
) -> DijetFit:
    """Fit 3 and 4 parameters and keep the 4-parameter fit only if an F-test asks for it.

    Rule: the 4-parameter fit is chosen when the F-test p-value (:func:`ftest_pvalue`) is below
    ``alpha``, i.e. the extra parameter improves the deviance significantly; otherwise the
    3-parameter fit. If only one of the two fits succeeds it is used (``ftest_pvalue`` NaN);
    if neither does, the 3-parameter error is raised. The returned fit records the F-test
    p-value; ``n_params`` tells which model was chosen.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    try:
        fit3: DijetFit | None = fit_dijet(edges, counts, fit_mask, 3, start=start3)
        err3: ValueError | None = None
    except ValueError as exc:
        fit3, err3 = None, exc
    try:
        fit4: DijetFit | None = fit_dijet(edges, counts, fit_mask, 4, start=start4)
    except ValueError:
        fit4 = None
    if fit3 is None and fit4 is None:
        assert err3 is not None
        raise err3
    if fit3 is None or fit4 is None:
        return fit3 if fit3 is not None else fit4  # type: ignore[return-value]
    p = ftest_pvalue(fit3, fit4)
    chosen = fit4 if p < alpha else fit3
    return dataclasses.replace(chosen, ftest_pvalue=p)


def predict(fit: DijetFit, bin_mask: Sequence[bool] | np.ndarray) -> tuple[float, float]:
    """Predicted background summed over ``bin_mask`` and its 1σ uncertainty.

    The uncertainty propagates the fit covariance with the analytic gradient of the bin
    integrals: σ_b² = gᵀ C g, g = ∂b/∂params.
    """
    bin_mask = np.asarray(bin_mask)
    if bin_mask.shape != fit.counts.shape or bin_mask.dtype != bool:
        raise ValueError(f"bin_mask must be a boolean array of shape {fit.counts.shape}")
    if not bin_mask.any():
        raise ValueError("bin_mask selects no bins: the signal region holds no histogram bin")
    mu, dmu, _ = fit._model.expected(fit.params, fit.fit_mask, order=1)
    assert dmu is not None
    g = dmu[bin_mask].sum(axis=0)
    b, var = float(mu[bin_mask].sum()), float(g @ fit.covariance @ g)
    if not (math.isfinite(b) and math.isfinite(var)):
        raise ValueError("background prediction is not finite: the fit is degenerate there")
    return b, math.sqrt(max(var, 0.0))


def dijet_density(
    mjj: np.ndarray, params: Sequence[float] | np.ndarray, family: str = "dijet"
) -> np.ndarray:
    """f(mjj / sqrt(s)) / sqrt(s): the function as counts per TeV at ``mjj`` (TeV).

    ``params`` are the physics parameters ``(p0, p1, ...)``, see
    :meth:`DijetFit.physics_params`.
    """
    params = np.asarray(params, dtype=np.float64)
    _check_family(family, params.size)
    x = np.asarray(mjj, dtype=np.float64) / SQRT_S_TEV
    return params[0] / SQRT_S_TEV * np.exp(_basis(x, family, params.size - 1) @ params[1:])


def bin_integrals(
    edges: Sequence[float] | np.ndarray, params: Sequence[float], family: str = "dijet"
) -> np.ndarray:
    """Integral of f over each bin for physics parameters ``(p0, p1, ...)`` (x units)."""
    edges = _check_edges(np.asarray(edges))
    params = np.asarray(params, dtype=np.float64)
    if params.ndim != 1:
        raise ValueError("params must be a 1-d sequence (p0, p1, ...)")
    model = _Model(edges, params.size, family)
    return params[0] * np.sum(model.weights * np.exp(model.basis @ params[1:]), axis=1)
