"""Local significance of a counting experiment and global p-values of a scan.

Local significance (Cowan, Cranmer, Gross, Vitells, arXiv:1007.1727): the likelihood

    L(s, β) = Poisson(n | s + β) × Gauss(b | β, σ_b)

treats the predicted background ``b ± σ_b`` (from the sideband fit) as a Gaussian-constrained
nuisance β. The discovery test statistic is q0 = -2 ln λ(0) with the profile likelihood ratio
λ(0) = L(0, β̂̂) / L(ŝ, β̂), ŝ = n - b, β̂ = b, and the conditional estimate β̂̂ solves
β² + (σ_b² - b) β - n σ_b² = 0. Then Z = √q0, Z = 0 for a deficit (n ≤ b), p0 = 1 - Φ(Z).

For a small background (``b`` below ``exact_below``, a config setting, default 20) the
asymptotic formula overstates Z (n = 1 over b = 0.001: 3.44 instead of 3.09), so the p-value
is the exact tail probability P(N >= n) of a Poisson count whose mean is the constrained
background: with a Gamma density of mean b and standard deviation σ_b for it, N follows a
negative binomial distribution (the Z_Bi construction of Cousins, Linnemann and Tucker,
arXiv:physics/0702156), and a plain Poisson distribution when σ_b = 0 (:func:`exact_pvalue`).

Examples
--------
>>> z, p = local_significance(130, 100.0, 0.0)
>>> round(z, 2), round(asimov_z(30.0, 100.0), 2)
(2.87, 2.87)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

__all__ = [
    "GlobalPValue",
    "asimov_z",
    "bonferroni_pvalue",
    "count_upcrossings",
    "exact_pvalue",
    "global_pvalue",
    "gross_vitells",
    "local_significance",
    "q0_statistic",
    "trials_factor_pvalue",
]


def _check_background(b: float, sigma_b: float) -> None:
    if not (math.isfinite(b) and math.isfinite(sigma_b)):
        raise ValueError(f"background b={b} ± {sigma_b} must be finite")
    if b <= 0.0:
        raise ValueError(
            f"predicted background b={b} must be > 0: the fit predicts no events in the "
            "signal region; use a wider window or a looser cut"
        )
    if sigma_b < 0.0:
        raise ValueError(f"background uncertainty sigma_b={sigma_b} must be >= 0")


def _beta_hathat(n: float, b: float, sigma_b: float) -> float:
    """Conditional ML background at s = 0 (positive root, computed without cancellation)."""
    if sigma_b == 0.0:
        return b
    s2 = sigma_b**2
    half = 0.5 * (b - s2)
    root = math.sqrt(half**2 + n * s2)
    return half + root if half >= 0.0 else n * s2 / (root - half)


def q0_statistic(n_obs: float, b: float, sigma_b: float) -> float:
    """-2 ln λ(0) without the one-sided cap (≥ 0 for excesses and deficits alike)."""
    n = float(n_obs)
    if not math.isfinite(n) or n < 0.0:
        raise ValueError(f"observed count n_obs={n_obs} must be finite and >= 0")
    _check_background(b, sigma_b)
    beta = _beta_hathat(n, b, sigma_b)
    log_term = n * math.log(n / beta) if n > 0.0 else 0.0
    q0 = 2.0 * (log_term - n + beta)
    if sigma_b > 0.0:
        q0 += (b - beta) ** 2 / sigma_b**2
    return max(q0, 0.0)


def exact_pvalue(n_obs: float, b: float, sigma_b: float) -> float:
    """P(N >= n_obs) for N ~ Poisson(β), β ~ Gamma with mean ``b`` and std ``sigma_b``.

    The Gamma–Poisson mixture is the negative binomial distribution with ``r = b²/σ_b²``
    and success probability ``b / (b + σ_b²)``; ``sigma_b = 0`` gives the Poisson tail.
    ``n_obs`` is rounded to the nearest count (histogram counts are integers).

    Examples
    --------
    >>> round(float(norm.isf(exact_pvalue(1, 0.001, 0.0))), 2)
    3.09
    """
    from scipy.stats import nbinom, poisson

    n = round(float(n_obs))
    if n < 0:
        raise ValueError(f"observed count n_obs={n_obs} must be >= 0")
    _check_background(b, sigma_b)
    if n == 0:
        return 1.0
    if sigma_b <= 1e-9 * b:
        return float(poisson.sf(n - 1, b))
    r = (b / sigma_b) ** 2
    return float(nbinom.sf(n - 1, r, b / (b + sigma_b**2)))


def local_significance(
    n_obs: float,
    b: float,
    sigma_b: float,
    *,
    signed: bool = False,
    exact_below: float = 0.0,
) -> tuple[float, float]:
    """Local significance ``(Z, p0)`` of ``n_obs`` events over ``b ± sigma_b``.

    Parameters
    ----------
    n_obs
        Observed events in the signal region (``>= 0``).
    b, sigma_b
        Predicted background (``> 0``) and its 1σ uncertainty (``>= 0``).
    signed
        ``False`` (default): the discovery convention, Z = 0 and p0 = 0.5 for a deficit.
        ``True``: Z = sign(n - b) √q0 and p = 1 - Φ(Z), uniform on (0, 1) under the
        background-only hypothesis (asymptotically); used for the null-hypothesis checks.
    exact_below
        For ``b`` below this, p is the exact tail probability :func:`exact_pvalue` and
        Z = Φ⁻¹(1 - p) (negative for a deficit when ``signed``; 0 for a deficit otherwise).

    Returns
    -------
    tuple of float
        ``(Z, p)``.

    Raises
    ------
    ValueError
        ``b <= 0``, ``sigma_b < 0``, negative or non-finite inputs.
    """
    if b < exact_below:
        p = exact_pvalue(n_obs, b, sigma_b)
        z = float(norm.isf(p))
        if not signed and n_obs <= b:
            return 0.0, 0.5
        if not signed:
            z = max(z, 0.0)
        return z, float(norm.sf(z))
    q0 = q0_statistic(n_obs, b, sigma_b)
    z = math.sqrt(q0)
    if n_obs <= b:
        z = -z if signed else 0.0
    return z, float(norm.sf(z))


def asimov_z(s: float, b: float) -> float:
    """Median discovery significance √(2((s+b) ln(1+s/b) - s)) (no background uncertainty)."""
    if b <= 0.0 or not math.isfinite(b):
        raise ValueError(f"background b={b} must be finite and > 0")
    if s <= 0.0:
        return 0.0
    return math.sqrt(2.0 * ((s + b) * math.log1p(s / b) - s))


@dataclass(frozen=True)
class GlobalPValue:
    """Global p-value from pseudo-experiments.

    ``p`` is the fraction of toys whose maximum local Z is at least the observed one and
    ``uncertainty`` its binomial standard error. When no toy reaches the observed value,
    ``upper_limit`` is True and ``p`` is the 95 % CL upper bound 1 - 0.05^(1/n_toys) (about
    3 / n_toys); ``uncertainty`` is then NaN. ``z`` is the equivalent one-sided significance
    (a lower bound when ``upper_limit``).
    """

    p: float
    uncertainty: float
    n_exceed: int
    n_toys: int
    upper_limit: bool

    @property
    def z(self) -> float:
        return float(norm.isf(self.p))

    def __str__(self) -> str:
        if self.upper_limit:
            return f"p < {self.p:.3g} (95% CL, 0 of {self.n_toys} toys), Z > {self.z:.2f}"
        return f"p = {self.p:.3g} ± {self.uncertainty:.2g} ({self.n_exceed}/{self.n_toys})"


def global_pvalue(
    observed_max_z: float, toy_max_z: Sequence[float] | np.ndarray, cl: float = 0.95
) -> GlobalPValue:
    """Global p-value: fraction of background-only toys with max local Z >= the observed one.

    Toys whose value is NaN (failed fits) are dropped. With no exceedance the Clopper–Pearson
    upper bound ``1 - (1 - cl)^(1/n)`` is reported instead of 0.
    """
    toys = np.asarray(toy_max_z, dtype=np.float64)
    toys = toys[np.isfinite(toys)]
    if toys.size == 0:
        raise ValueError("no valid toy maxima: run background_toys with n_toys > 0")
    if not math.isfinite(observed_max_z):
        raise ValueError(f"observed_max_z={observed_max_z} must be finite")
    n = toys.size
    k = int(np.count_nonzero(toys >= observed_max_z))
    if k == 0:
        return GlobalPValue(1.0 - (1.0 - cl) ** (1.0 / n), math.nan, 0, n, True)
    p = k / n
    return GlobalPValue(p, math.sqrt(p * (1.0 - p) / n), k, n, False)


def trials_factor_pvalue(p_local: float, n_trials: int) -> float:
    """Global p-value of the most significant of ``n_trials`` tests: 1 - (1 - p_local)^n.

    Exact for independent tests with calibrated local p-values (what :func:`background_toys`
    simulates). It is *not* a bound in general: overlapping windows are positively
    correlated (the formula then overstates p), but a window's SR lies in the sideband fit of
    its neighbours, which correlates them negatively (the formula may then understate p).
    The strict bound for any correlation is Bonferroni's n·p (:func:`bonferroni_pvalue`).
    Neither accounts for training the selection on the data: only the null ensembles of the
    whole chain (``calibrate``) do. Computed as ``-expm1(n log1p(-p))`` so that ``p_local``
    far below machine epsilon keeps its precision (≈ n p_local).
    """
    if not 0.0 <= p_local <= 1.0:
        raise ValueError(f"p_local={p_local} must be in [0, 1]")
    if isinstance(n_trials, bool) or int(n_trials) != n_trials or n_trials < 1:
        raise ValueError(f"n_trials={n_trials} must be an integer >= 1")
    if p_local == 1.0:
        return 1.0
    return float(-math.expm1(n_trials * math.log1p(-p_local)))


def bonferroni_pvalue(p_local: float, n_trials: int) -> float:
    """min(1, n·p): an upper bound on the global p-value whatever the tests' correlation."""
    if not 0.0 <= p_local <= 1.0:
        raise ValueError(f"p_local={p_local} must be in [0, 1]")
    if isinstance(n_trials, bool) or int(n_trials) != n_trials or n_trials < 1:
        raise ValueError(f"n_trials={n_trials} must be an integer >= 1")
    return float(min(1.0, n_trials * p_local))


def count_upcrossings(z: Sequence[float] | np.ndarray, level: float) -> int:
    """Number of times the curve ``z`` (ordered in window centre) crosses ``level`` upwards.

    A curve starting above ``level`` counts as one upcrossing (Gross–Vitells convention).
    """
    above = np.asarray(z, dtype=np.float64) > level
    if above.size == 0:
        return 0
    return int(above[0]) + int(np.count_nonzero(above[1:] & ~above[:-1]))


def gross_vitells(observed_max_z: float, mean_upcrossings: float, reference_z: float) -> float:
    """Global p-value by the Gross–Vitells approximation (arXiv:1005.1891).

    For a one-sided q0 = Z² (½χ²₁ asymptotics) the tail probability of the maximum over the
    scan is p_global ≈ p_local(Z) + ⟨N(u₀)⟩ exp(-(Z² - u₀)/2), u₀ = reference_z², where
    ⟨N(u₀)⟩ is the mean number of upcrossings of the Z curve above ``reference_z`` under the
    background-only hypothesis (e.g. averaged over a few toys with :func:`count_upcrossings`).
    The approximation assumes a continuous scan and is crude for a handful of coarse windows;
    the result is clipped to [p_local, 1].
    """
    if mean_upcrossings < 0.0 or not math.isfinite(mean_upcrossings):
        raise ValueError(f"mean_upcrossings={mean_upcrossings} must be finite and >= 0")
    z = max(float(observed_max_z), 0.0)
    p_local = float(norm.sf(z))
    p = p_local + mean_upcrossings * math.exp(-(z**2 - reference_z**2) / 2.0)
    return float(min(max(p, p_local), 1.0))
