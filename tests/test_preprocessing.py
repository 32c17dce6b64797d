"""Tests of the logit preprocessing: exact Jacobian, invertibility, explicit support handling."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm
from sklearn.exceptions import NotFittedError

from anode_cathode.density import LogitPreprocessor


def features(n: int, seed: int = 0) -> np.ndarray:
    """Three differently shaped features: a mass-like gamma, a ratio in (0, 1), a Gaussian."""
    rng = np.random.default_rng(seed)
    return np.c_[rng.gamma(2.0, 0.05, n), rng.beta(6, 4, n), rng.normal(3.0, 2.0, n)]


@pytest.fixture(scope="module")
def fitted() -> tuple[LogitPreprocessor, np.ndarray]:
    X = features(5000)
    return LogitPreprocessor(margin=0.01).fit(X), X


def test_roundtrip_and_standardisation(fitted):
    pre, X = fitted
    Z, log_det = pre.transform(X), pre.log_abs_det_jacobian(X)
    assert Z.shape == X.shape and log_det.shape == (len(X),)
    assert np.all(np.isfinite(Z)) and np.all(np.isfinite(log_det))
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(Z.std(axis=0), 1.0, rtol=1e-10)
    np.testing.assert_allclose(pre.inverse_transform(Z), X, rtol=1e-10, atol=1e-12)
    # the other way round too, for z far into the tails
    z = np.random.default_rng(1).normal(0.0, 3.0, (1000, 3))
    np.testing.assert_allclose(pre.transform(pre.inverse_transform(z)), z, atol=1e-6)
    assert np.all(pre.in_support(X))
    assert np.all(pre.lower_ < X.min(axis=0)) and np.all(pre.upper_ > X.max(axis=0))


def test_jacobian_matches_finite_differences(fitted):
    """Full numerical Jacobian per event (central differences, every dimension) vs log_det."""
    pre, X = fitted
    x0 = X[:50]
    log_det = pre.log_abs_det_jacobian(x0)
    for i, x in enumerate(x0):
        jac = np.empty((3, 3))
        for j in range(3):
            h = 1e-6 * (pre.upper_[j] - pre.lower_[j])
            up, down = x.copy(), x.copy()
            up[j] += h
            down[j] -= h
            jac[:, j] = (pre.transform(up[None])[0] - pre.transform(down[None])[0]) / (2 * h)
        off_diagonal = jac - np.diag(np.diag(jac))
        assert np.max(np.abs(off_diagonal)) < 1e-8  # features are transformed independently
        sign, logabsdet = np.linalg.slogdet(jac)
        assert sign != 0
        assert logabsdet == pytest.approx(log_det[i], abs=1e-5)


def test_change_of_variables_integrates_to_one():
    """p_X(x) = p_Z(z(x)) |dz/dx| with a standard normal p_Z integrates to 1 over the support."""
    x = np.random.default_rng(2).gamma(2.0, 1.0, (2000, 1))
    pre = LogitPreprocessor(margin=0.05).fit(x)

    def density(v: float) -> float:
        point = np.array([[v]])
        z, log_det = pre.transform(point), pre.log_abs_det_jacobian(point)
        return float(np.exp(norm.logpdf(z[0, 0]) + log_det[0]))

    lo, hi = float(pre.lower_[0]), float(pre.upper_[0])
    eps = 1e-12 * (hi - lo)
    total, err = integrate.quad(density, lo + eps, hi - eps, limit=500, points=[x.mean()])
    assert total == pytest.approx(1.0, abs=1e-6), (total, err)
    # and the mean of p_X agrees with the mean of the inverse-transformed normal samples
    mean_x, _ = integrate.quad(lambda v: v * density(v), lo + eps, hi - eps, limit=500)
    z = np.random.default_rng(3).standard_normal((400_000, 1))
    assert pre.inverse_transform(z).mean() == pytest.approx(mean_x, rel=5e-3)


def test_outside_support_is_explicit(fitted, caplog):
    pre, X = fitted
    Y = X[:10].copy()
    Y[2, 0] = pre.upper_[0] + 1.0  # above the range
    Y[5, 1] = pre.lower_[1] - 0.1  # below the range
    Y[7, 2] = pre.upper_[2]  # exactly on the edge is outside (open interval)
    mask = pre.in_support(Y)
    assert mask.tolist() == [i not in (2, 5, 7) for i in range(10)]
    with pytest.raises(ValueError, match="3 of 10 events lie outside"):
        pre.transform(Y)
    with caplog.at_level(logging.WARNING, logger="anode_cathode.density.preprocessing"):
        Z = pre.transform(Y, outside="clip")
    log_det = pre.log_abs_det_jacobian(Y, outside="clip")
    assert "clipping 3 of 10 events" in caplog.text
    assert np.all(np.isfinite(Z)) and np.all(np.isfinite(log_det))
    Z_in, log_det_in = pre.transform(Y[mask]), pre.log_abs_det_jacobian(Y[mask])
    np.testing.assert_array_equal(Z[mask], Z_in)
    np.testing.assert_array_equal(log_det[mask], log_det_in)
    with pytest.raises(ValueError, match="outside must be"):
        pre.transform(Y, outside="drop")


def test_nan_rows_propagate_but_are_not_in_support(fitted):
    pre, X = fitted
    Y = X[:4].copy()
    Y[1, 2] = np.nan
    assert pre.in_support(Y).tolist() == [True, False, True, True]
    # NaN is not "outside": it stays NaN, the caller sees it
    Z, log_det = pre.transform(Y), pre.log_abs_det_jacobian(Y)
    assert np.isnan(Z[1]).any() and np.isnan(log_det[1])
    assert np.all(np.isfinite(Z[[0, 2, 3]]))


def test_margin_zero_excludes_the_extreme_training_events():
    X = features(500, seed=4)
    pre = LogitPreprocessor(margin=0.0).fit(X)
    inside = pre.in_support(X)
    extremes = np.unique(np.r_[X.argmin(axis=0), X.argmax(axis=0)])
    assert (~inside).sum() == extremes.size and not inside[extremes].any()


def test_fit_errors_and_state_roundtrip(fitted):
    with pytest.raises(NotFittedError):
        LogitPreprocessor().transform(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="constant"):
        LogitPreprocessor().fit(np.c_[np.arange(5.0), np.ones(5)])
    with pytest.raises(ValueError, match="margin"):
        LogitPreprocessor(margin=-0.1).fit(np.c_[np.arange(5.0)])
    pre, X = fitted
    with pytest.raises(ValueError, match="features"):
        pre.transform(X[:, :2])
    twin = LogitPreprocessor.from_state(pre.state())
    np.testing.assert_array_equal(twin.transform(X[:100]), pre.transform(X[:100]))
    np.testing.assert_array_equal(
        twin.log_abs_det_jacobian(X[:100]), pre.log_abs_det_jacobian(X[:100])
    )
    assert twin.get_params() == pre.get_params()


def test_physical_lower_bound_starts_the_support_and_floors_the_inverse():
    # a mass difference: non-negative, with the most events right at 0 (a hard edge)
    rng = np.random.default_rng(5)
    X = np.c_[rng.exponential(0.05, 4000), rng.normal(size=4000)]
    X[0, 0] = 0.0  # two jets of exactly equal mass
    pre = LogitPreprocessor(margin=0.01, lower_bounds=[0.0, None]).fit(X)
    assert pre.in_support(X).all()
    assert -1e-6 < pre.lower_[0] < 0.0 and pre.lower_[1] < X[:, 1].min() - 0.005
    # the edge sits at a large negative logit instead of a cliff inside the space
    assert pre.transform(X)[:, 0].min() < -5.0
    # whatever a flow returns, the inverse never crosses the bound
    Z = np.c_[np.linspace(-60.0, 60.0, 101), np.zeros(101)]
    back = pre.inverse_transform(Z)
    assert back[:, 0].min() == 0.0 and np.all(np.diff(back[:, 0]) >= 0)
    with pytest.raises(ValueError, match="physical lower bound"):
        LogitPreprocessor(lower_bounds=[0.1, None]).fit(X)
    with pytest.raises(ValueError, match="lower_bounds"):
        LogitPreprocessor(lower_bounds=[0.0]).fit(X)
    twin = LogitPreprocessor.from_state(pre.state())
    np.testing.assert_array_equal(twin.inverse_transform(Z), back)
    # a state saved before physical bounds existed has no floor: the support's lower end
    old = {k: v for k, v in pre.state().items() if k != "floor_"}
    np.testing.assert_array_equal(LogitPreprocessor.from_state(old).floor_, pre.lower_)
