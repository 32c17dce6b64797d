"""Built-in LHCO-like dijet generator: the default data source (no download needed).

A fast parametric model of the LHC Olympics 2020 R&D sample (docs/data.md): QCD dijets and a
W'(3.5 TeV) → X(500 GeV) Y(100 GeV) → (qq)(qq) signal, written in the exact 15-column LHCO
layout (GeV; jet 1 = leading-pT jet). The model and its calibration are described in
``docs/generator.md``.

Per event: a generator-level dijet mass ``M`` (falling dijet spectrum for QCD, Breit–Wigner for
the W'), a rapidity difference Δy (t-channel-like dN/d|Δy| ∝ exp(0.5 |Δy|) for QCD, from
1 + a cos²θ* for the signal), restricted to |Δy| < 1.3 as in the CMS dijet resonance searches,
and a small longitudinal boost. Two massive jets are built back to back in φ with the common pT
that reproduces ``M`` exactly, then smeared (pT response with an out-of-cone FSR loss tail,
jet-mass response, Δφ imbalance) and the trigger is applied. The final ``mjj`` is whatever the
smeared 4-vectors give. The Δy selection makes the trigger (leading-jet pT > 1.2 TeV) fully
efficient above mjj ≈ 2.4 TeV × cosh(0.65) ≈ 2.9 TeV, so above the turn-on the spectrum is the
smeared dijet shape and the standard dijet function fits it. QCD jet masses scale with pT
(quark/gluon mixture of log-normals in m/pT, gluon fraction falling with mjj) and QCD τ21 falls
with log(m/pT) and log pT, so jet masses and substructure shift with ``mjj``.

Examples
--------
>>> df = generate_events(2000, 100, seed=3)
>>> df.shape
(2100, 15)
>>> bool((df["label"].iloc[:2000] == 0).all() and (df["label"].iloc[2000:] == 1).all())
True
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit, ndtr, ndtri

from anode_cathode.data.features import dijet_mass
from anode_cathode.data.lhco import LHCO_COLUMNS

__all__ = [
    "GeneratorParams",
    "generate_background",
    "generate_events",
    "generate_extra_background",
    "generate_signal",
]

_TRUNC = 3.0  # Gaussian responses are truncated at ±3σ, so mjj(final)/mjj(generator) is bounded
_N_GRID = 4096  # log grid for the tabulated inverse CDF of the generator-level mjj
_MJJ_REF_TEV = 3.5  # reference mjj of the gluon-fraction slope
_ROWS = {"px": 0, "py": 1, "pz": 2, "m": 3, "tau1": 5, "tau2": 6, "tau3": 7}  # rows of a jet array

# parameters that must lie in [0, 1] / be > 0 (checked by GeneratorParams)
_IN_UNIT = """fsr_prob fsr_max_loss bkg_gluon_frac bkg_tau21_median bkg_tau32_median
    signal_mass_tail_prob signal_mass_tail_max signal_tau21_median_x signal_tau21_median_y
    signal_tau32_median signal_qcd_like_prob signal_bw_window_frac""".split()
_POSITIVE = """pt_trigger_gev sqrt_s_tev mjj_gen_max_tev dy_max bkg_dy_slope boost_sigma boost_max
    fsr_mean_loss pt_ref_gev bkg_rho_median bkg_rho_max bkg_gluon_rho_ratio tau1_per_mass
    signal_mass_tev signal_width_frac mass_x_gev mass_y_gev signal_mass_tail_mean""".split()

Array = np.ndarray
Substructure = Callable[[np.random.Generator, Array, Array, Array, int], tuple[Array, Array, Array]]


@dataclass(frozen=True)
class GeneratorParams:
    """Physics parameters of the built-in generator (GeV/TeV as in the names, angles in rad).

    Spectrum and kinematics
        ``pt_trigger_gev`` leading-jet pT threshold; ``sqrt_s_tev`` collider energy;
        ``spectrum_p1/p2/p3`` generator-level QCD spectrum ``(1 - x)^p1 / x^(p2 + p3 ln x)``,
        ``x = M / sqrt_s``, up to ``mjj_gen_max_tev``; ``dy_max`` largest |Δy| (rapidity-gap
        selection of background and signal; 1.3 keeps the trigger turn-on below 2.9 TeV);
        ``bkg_dy_slope`` QCD shape ``dN/d|Δy| ∝ exp(slope |Δy|)`` (1 = flat in χ, t-channel);
        ``boost_sigma`` / ``boost_max`` Gaussian rapidity of the dijet system, truncated.
    Detector and shower (every jet; Gaussians truncated at ±3σ)
        ``jet_pt_resolution`` relative pT response; ``fsr_prob``, ``fsr_mean_loss`` and
        ``fsr_max_loss`` probability, mean and maximum of the pT fraction lost out of cone
        (truncated exponential: low mjj tail); ``jet_mass_resolution`` relative mass response;
        ``dphi_sigma_rad`` deviation from back to back.
    QCD jets
        m/pT is log-normal with median ``bkg_rho_median`` for quark jets at ``pt_ref_gev``
        (× ``bkg_gluon_rho_ratio`` for gluon jets), width ``bkg_rho_log_sigma``, pT scaling
        ``bkg_rho_pt_slope`` (d ln median / d ln pT) and a smooth upper bound ``bkg_rho_max``;
        gluon fraction ``bkg_gluon_frac`` at mjj = 3.5 TeV with logit slope
        ``bkg_gluon_frac_slope_per_tev``. τ21 is logit-normal: median ``bkg_tau21_median`` at the
        reference point, logit slopes ``bkg_tau21_rho_slope`` (per unit ln(m/pT)) and
        ``bkg_tau21_pt_slope`` (per unit ln pT), width ``bkg_tau21_logit_sigma``. τ32 likewise
        (``bkg_tau32_*``; ``tau32_tau21_slope`` couples it to the jet's logit τ21).
        τ1 = ``tau1_per_mass`` × m × log-normal(``tau1_log_sigma``) for every jet.
    Signal
        ``signal_mass_tev`` W' mass with Breit–Wigner Γ/M ``signal_width_frac`` truncated at
        ±``signal_bw_window_frac``; decay angle 1 + ``signal_costheta_a`` cos²θ*; daughter masses
        ``mass_x_gev`` / ``mass_y_gev`` with a truncated-exponential fractional jet-mass loss
        (``signal_mass_tail_prob/_mean/_max``: decay products outside the jet); two-prong
        logit-normal τ21 (``signal_tau21_median_x/_y``, ``signal_tau21_logit_sigma``) and τ32
        (``signal_tau32_median``, ``signal_tau32_logit_sigma``); ``signal_qcd_like_prob`` chance
        that a signal jet is mis-reconstructed and looks like a QCD jet of the same pT.
    """

    pt_trigger_gev: float = 1200.0
    sqrt_s_tev: float = 13.0
    spectrum_p1: float = 10.0
    spectrum_p2: float = 2.4
    spectrum_p3: float = 0.0
    mjj_gen_max_tev: float = 10.0
    dy_max: float = 1.3
    bkg_dy_slope: float = 0.5
    boost_sigma: float = 0.6
    boost_max: float = 1.5
    jet_pt_resolution: float = 0.05
    fsr_prob: float = 0.3
    fsr_mean_loss: float = 0.06
    fsr_max_loss: float = 0.25
    jet_mass_resolution: float = 0.08
    dphi_sigma_rad: float = 0.03
    pt_ref_gev: float = 1500.0
    bkg_rho_median: float = 0.05
    bkg_rho_log_sigma: float = 0.8
    bkg_rho_pt_slope: float = -0.1
    bkg_rho_max: float = 0.7
    bkg_gluon_frac: float = 0.5
    bkg_gluon_frac_slope_per_tev: float = -0.5
    bkg_gluon_rho_ratio: float = 2.0
    bkg_tau21_median: float = 0.6
    bkg_tau21_rho_slope: float = -0.5
    bkg_tau21_pt_slope: float = -0.3
    bkg_tau21_logit_sigma: float = 0.75
    bkg_tau32_median: float = 0.72
    bkg_tau32_logit_sigma: float = 0.45
    tau32_tau21_slope: float = 0.3
    tau1_per_mass: float = 0.2
    tau1_log_sigma: float = 0.25
    signal_mass_tev: float = 3.5
    signal_width_frac: float = 0.01
    signal_bw_window_frac: float = 0.2
    signal_costheta_a: float = -0.5
    mass_x_gev: float = 500.0
    mass_y_gev: float = 100.0
    signal_mass_tail_prob: float = 0.3
    signal_mass_tail_mean: float = 0.15
    signal_mass_tail_max: float = 0.8
    signal_tau21_median_x: float = 0.38
    signal_tau21_median_y: float = 0.32
    signal_tau21_logit_sigma: float = 0.75
    signal_tau32_median: float = 0.75
    signal_tau32_logit_sigma: float = 0.4
    signal_qcd_like_prob: float = 0.09

    def __post_init__(self) -> None:
        bad = [f.name for f in dataclasses.fields(self) if not math.isfinite(getattr(self, f.name))]
        bad += [k for k in _IN_UNIT if not 0.0 <= getattr(self, k) <= 1.0]
        bad += [k for k in _POSITIVE if not getattr(self, k) > 0.0]
        bad += [
            k
            for k in ("jet_pt_resolution", "jet_mass_resolution")
            if not 0.0 <= _TRUNC * getattr(self, k) < 1.0
        ]
        bad += [k for k in ("fsr_max_loss", "signal_mass_tail_max") if getattr(self, k) >= 1.0]
        bad += [] if 0.0 <= _TRUNC * self.dphi_sigma_rad < 1.0 else ["dphi_sigma_rad"]
        bad += [] if abs(self.signal_costheta_a) <= 1.0 else ["signal_costheta_a"]
        if bad:
            raise ValueError(f"generator parameter(s) out of range: {sorted(set(bad))}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> GeneratorParams:
        """Defaults overridden by ``d``; an unknown key raises ``ValueError`` naming it.

        >>> GeneratorParams.from_dict({"mass_x_gev": 300}).mass_x_gev
        300.0
        """
        d = dict(d or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown generator parameter(s) {unknown}; known: {sorted(names)}")
        values = {}
        for key, value in d.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"generator parameter {key!r} must be a number, got {value!r}")
            values[key] = float(value)
        return cls(**values)

    def response_bounds(self) -> tuple[float, float]:
        """Bounds of every jet's pT and mass response factor (truncated Gaussians × FSR loss)."""
        res = max(self.jet_pt_resolution, self.jet_mass_resolution)
        return (1.0 - _TRUNC * res) * (1.0 - self.fsr_max_loss), 1.0 + _TRUNC * res


# ----------------------------------------------------------------------------------- helpers
def _trunc_normal(
    rng: np.random.Generator, size: int | tuple[int, ...], k: float = _TRUNC
) -> Array:
    """Standard normal truncated to [-k, k] (inverse CDF, one uniform per draw)."""
    lo = ndtr(-k)
    return ndtri(lo + (1.0 - 2.0 * lo) * rng.random(size))


def _loss(
    rng: np.random.Generator, size: tuple[int, ...], prob: float, mean: float, upper: float
) -> Array:
    """Fractional loss: 0 with probability 1 - prob, else exponential(mean) truncated at upper."""
    lost = -mean * np.log1p(rng.random(size) * np.expm1(-upper / mean))
    return np.where(rng.random(size) < prob, lost, 0.0)


def _logit_normal(
    rng: np.random.Generator, mu: Array | float, sigma: Array | float, n: int
) -> Array:
    """Logit-normal draws in (0, 1): expit(mu + sigma z)."""
    return expit(mu + sigma * rng.standard_normal(n))


def _solve_pt(mjj: Array, m1: Array, m2: Array, dy: Array) -> Array:
    """Common pT of two back-to-back jets with masses m1, m2, rapidity gap dy and mass mjj.

    m_jj² = m1² + m2² + 2 (mT1 mT2 cosh Δy + pT²) is a quadratic in A = pT²:
    (c² - 1) A² + (2K + c² (m1² + m2²)) A - (K² - c² m1² m2²) = 0 with K = (m_jj² - m1² - m2²)/2
    and c = cosh Δy. Its positive root is taken as 2q / (b + sqrt(b² + 4aq)), stable at Δy → 0.
    """
    c2 = np.cosh(dy) ** 2
    k = 0.5 * (mjj**2 - m1**2 - m2**2)
    a = c2 - 1.0
    b = 2.0 * k + c2 * (m1**2 + m2**2)
    q = np.clip(k**2 - c2 * m1**2 * m2**2, 0.0, None)
    return np.sqrt(2.0 * q / (b + np.sqrt(b**2 + 4.0 * a * q)))


def _smearing(rng: np.random.Generator, n: int, p: GeneratorParams) -> tuple[Array, Array, Array]:
    """Per-jet pT response (with FSR loss), mass response (shapes (2, n)) and Δφ - π."""
    loss = _loss(rng, (2, n), p.fsr_prob, p.fsr_mean_loss, p.fsr_max_loss)
    pt_resp = (1.0 + p.jet_pt_resolution * _trunc_normal(rng, (2, n))) * (1.0 - loss)
    m_resp = 1.0 + p.jet_mass_resolution * _trunc_normal(rng, (2, n))
    return pt_resp, m_resp, p.dphi_sigma_rad * _trunc_normal(rng, n)


def _qcd_mass(rng: np.random.Generator, pt: Array, mjj_tev: Array, p: GeneratorParams) -> Array:
    """QCD jet mass (GeV): quark/gluon mixture of log-normals in m/pT."""
    n = len(pt)
    gluon_logit = logit(p.bkg_gluon_frac) + p.bkg_gluon_frac_slope_per_tev * (
        mjj_tev - _MJJ_REF_TEV
    )
    gluon = rng.random(n) < expit(gluon_logit)
    log_rho = (
        np.log(p.bkg_rho_median)
        + np.where(gluon, np.log(p.bkg_gluon_rho_ratio), 0.0)
        + p.bkg_rho_pt_slope * np.log(pt / p.pt_ref_gev)
        + p.bkg_rho_log_sigma * rng.standard_normal(n)
    )
    rho = np.exp(log_rho)
    return pt * rho / (1.0 + rho / p.bkg_rho_max)  # smooth bound m/pT < bkg_rho_max


def _qcd_tau21(rng: np.random.Generator, m: Array, pt: Array, p: GeneratorParams) -> Array:
    """QCD τ21: logit-normal, median falling with ln(m/pT) and ln pT (DDT-like)."""
    mu = (
        logit(p.bkg_tau21_median)
        + p.bkg_tau21_rho_slope * (np.log(m / pt) - np.log(p.bkg_rho_median))
        + p.bkg_tau21_pt_slope * np.log(pt / p.pt_ref_gev)
    )
    return _logit_normal(rng, mu, p.bkg_tau21_logit_sigma, len(m))


def _taus(
    rng: np.random.Generator,
    m: Array,
    tau21: Array,
    med32: Array | float,
    sigma32: Array | float,
    p: GeneratorParams,
) -> tuple[Array, Array, Array]:
    """τ1, τ2, τ3 (GeV-like) from the jet mass, its τ21 and a logit-normal τ32."""
    mu32 = logit(med32) + p.tau32_tau21_slope * (logit(tau21) - logit(p.bkg_tau21_median))
    tau32 = _logit_normal(rng, mu32, sigma32, len(m))
    tau1 = p.tau1_per_mass * m * np.exp(p.tau1_log_sigma * rng.standard_normal(len(m)))
    return tau1, tau21 * tau1, tau32 * tau21 * tau1


def _events(
    rng: np.random.Generator,
    mjj: Array,
    dy: Array,
    masses: tuple[Array, Array],
    smear: tuple[Array, Array, Array],
    tags: Array,
    subs: Substructure,
    label: float,
    p: GeneratorParams,
    mjj_range: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """Generator-level jets (GeV) → smeared 4-vectors → trigger (and mjj range) → LHCO table.

    ``tags`` (shape (2, n)) are per-jet flags handed to ``subs(rng, m, pt, tag, j)``, which
    returns (τ1, τ2, τ3) of generator-level jet ``j`` for the kept events.
    """
    n = len(mjj)
    pt = _solve_pt(mjj, masses[0], masses[1], dy)
    pt_resp, m_resp, dphi = smear
    boost = p.boost_sigma * _trunc_normal(rng, n, p.boost_max / p.boost_sigma)
    phi = rng.uniform(-np.pi, np.pi, n)
    jets = []
    for j, (half, phi_j) in enumerate(((0.5, phi), (-0.5, phi + np.pi + dphi))):
        pt_j, m_j = pt * pt_resp[j], masses[j] * m_resp[j]
        pz = np.hypot(pt_j, m_j) * np.sinh(boost + half * dy)
        jets.append(np.stack([pt_j * np.cos(phi_j), pt_j * np.sin(phi_j), pz, m_j, pt_j]))
    keep = np.maximum(jets[0][4], jets[1][4]) > p.pt_trigger_gev
    if mjj_range is not None:
        final = dijet_mass(jets[0][:4].T, jets[1][:4].T) / 1000.0
        keep &= (final > mjj_range[0]) & (final < mjj_range[1])
    jets = [
        np.vstack([jet[:, keep], *subs(rng, jet[3, keep], jet[4, keep], tags[j, keep], j)])
        for j, jet in enumerate(jets)
    ]
    first = jets[0][4] >= jets[1][4]  # jet 1 of the table = leading-pT jet
    cols: dict[str, Array] = {"label": np.full(int(keep.sum()), float(label))}
    for out, pick in ((1, first), (2, ~first)):
        for q, row in _ROWS.items():
            cols[f"{q}j{out}"] = np.where(pick, jets[0][row], jets[1][row])
    return pd.DataFrame({c: cols[c] for c in LHCO_COLUMNS})


def _collect(n: int, batch: Callable[[int], pd.DataFrame], first_guess: float) -> pd.DataFrame:
    """Call ``batch(size)`` until ``n`` rows were accepted; sizes follow the acceptance."""
    if n < 0:
        raise ValueError(f"number of events must be >= 0, got {n}")
    parts: list[pd.DataFrame] = []
    have, tried = 0, 0
    while have < n:
        if tried >= 1_000_000 and have < 1e-4 * tried:
            raise RuntimeError(
                f"generator acceptance below 1e-4 ({have} of {tried} events pass the trigger "
                "and mjj range): check the generator parameters and the requested mjj range"
            )
        eff = max(have / tried, 1e-3) if tried else first_guess
        size = int(min(max((n - have) / eff * 1.05 + 256, 1024), 4_000_000))
        parts.append(batch(size))
        tried, have = tried + size, have + len(parts[-1])
    if not parts:
        return pd.DataFrame({c: np.zeros(0) for c in LHCO_COLUMNS})
    return pd.concat(parts, ignore_index=True).iloc[:n].reset_index(drop=True)


# ------------------------------------------------------------------------------ public API
def generate_background(
    n: int,
    rng: np.random.Generator,
    params: GeneratorParams = GeneratorParams(),
    mjj_range: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """QCD dijet events (label 0) with |Δy| < dy_max that pass the trigger, in the LHCO layout.

    Parameters
    ----------
    n
        Number of events returned.
    rng
        Source of randomness.
    params
        Physics parameters.
    mjj_range
        ``(lo, hi)`` in TeV: keep only events whose final mjj satisfies lo < mjj < hi. The
        generator-level mjj is then drawn only where the bounded detector response can bring
        it into the range, so the events follow exactly the full sample's distribution there.

    Returns
    -------
    pandas.DataFrame
        ``n`` rows, columns :data:`~anode_cathode.data.lhco.LHCO_COLUMNS` (GeV), label 0.
    """
    p = params
    r_lo, r_hi = p.response_bounds()
    cos_lo = math.cos(_TRUNC * p.dphi_sigma_rad)
    pt_trig = p.pt_trigger_gev / 1000.0
    m_lo, m_hi = 2.0 * pt_trig / r_hi, p.mjj_gen_max_tev
    if mjj_range is not None:
        lo, hi = float(mjj_range[0]), float(mjj_range[1])
        if not 0.0 < lo < hi:
            raise ValueError(f"mjj_range must satisfy 0 < lo < hi, got {mjj_range}")
        m_lo, m_hi = max(m_lo, lo / r_hi), min(m_hi, hi / (r_lo * math.sqrt(cos_lo)))
        if m_lo >= m_hi:
            raise ValueError(f"mjj_range {mjj_range} lies outside the generated spectrum")
    s = p.bkg_dy_slope

    def dy_limit(m: Array, resp: Array | float) -> Array:
        """Largest |Δy| at which a jet with pT response ``resp`` can pass the trigger."""
        z = np.maximum(m * resp / (2.0 * pt_trig), 1.0)  # pT <= M / (2 cosh(Δy/2))
        return np.minimum(2.0 * np.arccosh(z), p.dy_max)

    # generator-level mjj: spectrum × P(|Δy| below the most permissive trigger limit)
    grid = np.geomspace(m_lo, m_hi, _N_GRID)
    x = grid / p.sqrt_s_tev
    pdf = (1.0 - x) ** p.spectrum_p1 / x ** (p.spectrum_p2 + p.spectrum_p3 * np.log(x))
    pdf *= np.expm1(s * dy_limit(grid, r_hi)) * grid  # density in ln M
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(np.log(grid)))])

    def subs(r: np.random.Generator, m: Array, pt: Array, _tag: Array, _j: int):
        return _taus(r, m, _qcd_tau21(r, m, pt, p), p.bkg_tau32_median, p.bkg_tau32_logit_sigma, p)

    def batch(size: int) -> pd.DataFrame:
        mjj = np.exp(np.interp(rng.random(size) * cdf[-1], cdf, np.log(grid)))
        pt_resp, m_resp, dphi = _smearing(rng, size, p)
        # Exact shortcut: drop events that cannot pass the trigger (or reach mjj_range) whatever
        # their Δy, then draw Δy only below the limit set by their own leading response.
        limit = dy_limit(mjj, pt_resp.max(axis=0))
        ok = rng.random(size) * np.expm1(s * dy_limit(mjj, r_hi)) < np.expm1(s * limit)
        if mjj_range is not None:
            resp = np.concatenate([pt_resp, m_resp])
            ok &= (mjj * resp.max(axis=0) > lo) & (
                mjj * resp.min(axis=0) * np.sqrt(np.cos(dphi)) < hi
            )
        mjj, limit, pt_resp, m_resp, dphi = (
            mjj[ok],
            limit[ok],
            pt_resp[:, ok],
            m_resp[:, ok],
            dphi[ok],
        )
        k = len(mjj)
        dy = np.log1p(rng.random(k) * np.expm1(s * limit)) / s
        dy *= np.where(rng.random(k) < 0.5, -1.0, 1.0)
        pt0 = 1000.0 * mjj / (2.0 * np.cosh(dy / 2.0))  # massless pT sets the jet-mass scale
        masses = (_qcd_mass(rng, pt0, mjj, p), _qcd_mass(rng, pt0, mjj, p))
        tags = np.zeros((2, k), dtype=bool)
        smear = (pt_resp, m_resp, dphi)
        return _events(rng, 1000.0 * mjj, dy, masses, smear, tags, subs, 0.0, p, mjj_range)

    return _collect(n, batch, 0.5)


def generate_signal(
    n: int, rng: np.random.Generator, params: GeneratorParams = GeneratorParams()
) -> pd.DataFrame:
    """W' → X(→qq) Y(→qq) events (label 1) with |Δy| < dy_max that pass the trigger (LHCO layout).

    Generator-level jet 0 is X, jet 1 is Y; the table orders them by pT like the data.
    """
    p = params
    m0 = 1000.0 * p.signal_mass_tev
    gamma = p.signal_width_frac * m0
    edge = np.arctan(2.0 * p.signal_bw_window_frac * m0 / gamma)
    cos_max = math.tanh(0.5 * p.dy_max)  # |Δy| < dy_max  <=>  |cos θ*| < tanh(dy_max / 2)
    cos_grid = np.linspace(-cos_max, cos_max, 1025)  # CDF of 1 + a cos²θ*
    cos_cdf = cos_grid + cos_max + p.signal_costheta_a * (cos_grid**3 + cos_max**3) / 3.0
    tau21_medians = (p.signal_tau21_median_x, p.signal_tau21_median_y)

    def subs(r: np.random.Generator, m: Array, pt: Array, qcd: Array, j: int):
        two_prong = _logit_normal(r, logit(tau21_medians[j]), p.signal_tau21_logit_sigma, len(m))
        tau21 = np.where(qcd, _qcd_tau21(r, m, pt, p), two_prong)
        med32 = np.where(qcd, p.bkg_tau32_median, p.signal_tau32_median)
        sigma32 = np.where(qcd, p.bkg_tau32_logit_sigma, p.signal_tau32_logit_sigma)
        return _taus(r, m, tau21, med32, sigma32, p)

    def batch(size: int) -> pd.DataFrame:
        mjj = m0 + 0.5 * gamma * np.tan(rng.uniform(-edge, edge, size))  # truncated Breit-Wigner
        cos_t = np.interp(rng.random(size) * cos_cdf[-1], cos_cdf, cos_grid)
        cos_t = np.clip(cos_t, -0.9999, 0.9999)
        dy = np.log1p(cos_t) - np.log1p(-cos_t)  # massless: Δy = 2 artanh cos θ*
        pt0 = mjj / (2.0 * np.cosh(dy / 2.0))
        lost = _loss(
            rng, (2, size), p.signal_mass_tail_prob, p.signal_mass_tail_mean, p.signal_mass_tail_max
        )
        tags = rng.random((2, size)) < p.signal_qcd_like_prob
        masses = tuple(
            np.where(tags[j], _qcd_mass(rng, pt0, mjj / 1000.0, p), mass * (1.0 - lost[j]))
            for j, mass in enumerate((p.mass_x_gev, p.mass_y_gev))
        )
        smear = _smearing(rng, size, p)
        return _events(rng, mjj, dy, (masses[0], masses[1]), smear, tags, subs, 1.0, p)

    return _collect(n, batch, 0.6)


def _streams(seed: int) -> list[np.random.Generator]:
    """Independent generators for background, signal and extra background of one seed."""
    return [np.random.default_rng(c) for c in np.random.SeedSequence(seed).spawn(3)]


def generate_events(
    n_background: int, n_signal: int, seed: int, params: GeneratorParams = GeneratorParams()
) -> pd.DataFrame:
    """A full LHCO-like sample: ``n_background`` QCD rows first, then ``n_signal`` signal rows."""
    rng_bkg, rng_sig, _ = _streams(seed)
    background = generate_background(n_background, rng_bkg, params)
    signal = generate_signal(n_signal, rng_sig, params)
    return pd.concat([background, signal], ignore_index=True)


def generate_extra_background(
    n: int, seed: int, mjj_range: tuple[float, float], params: GeneratorParams = GeneratorParams()
) -> pd.DataFrame:
    """Background only inside ``mjj_range`` (TeV), independent of :func:`generate_events`.

    Like the LHCO ``qcd_extra_inneronly`` file; uses its own random stream of ``seed``.
    """
    return generate_background(n, _streams(seed)[2], params, mjj_range=mjj_range)
