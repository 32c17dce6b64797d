"""Background-function families (5-parameter dijet, UA2), their bias test and fit-range
variation."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from scipy.integrate import quad

from anode_cathode.bumphunt.bias import bias_table, fit_bias, fit_range_variation
from anode_cathode.bumphunt.cuts import histogram_edges
from anode_cathode.bumphunt.functions import (
    bin_integrals,
    dijet_density,
    fit_dijet,
    parse_fit_model,
    predict,
)
from anode_cathode.bumphunt.window import configured_fit
from anode_cathode.data.regions import Window

EDGES = np.round(np.arange(2.8, 6.5001, 0.1), 6)
SR = histogram_edges(Window(3.3, 3.7), (EDGES[0], EDGES[-1]), 0.1)[1]
DIJET5 = (1.0, 9.0, 6.0, 0.3, 0.05)
UA2 = (1.0, 6.0, 20.0, 5.0)
CURVED4 = (1.0, 5.0, 8.0, 1.5)


def _closed_form(family: str, p: tuple[float, ...]):
    if family == "ua2":
        return lambda x: p[0] * x ** (-p[1]) * math.exp(-p[2] * x - p[3] * x**2)
    lx = math.log

    def f(x: float) -> float:
        return p[0] * (1 - x) ** p[1] / x ** (p[2] + p[3] * lx(x) + p[4] * lx(x) ** 2)

    return f


def _counts(params, n_events, family="dijet"):
    mu = bin_integrals(EDGES, params, family)
    return n_events * mu / mu.sum()


@pytest.mark.parametrize(("family", "params"), [("dijet", DIJET5), ("ua2", UA2)])
def test_new_families_integrate_their_closed_forms(family, params):
    f = _closed_form(family, params)
    ref = [quad(f, a / 13, b / 13)[0] for a, b in itertools.pairwise(EDGES)]
    np.testing.assert_allclose(bin_integrals(EDGES, params, family), ref, rtol=1e-8)
    # the density is the same function per TeV
    m = np.array([3.0, 4.5])
    np.testing.assert_allclose(dijet_density(m, params, family), [f(x / 13) / 13 for x in m])


@pytest.mark.parametrize(("family", "params"), [("dijet", DIJET5), ("ua2", UA2)])
def test_new_families_fit_their_own_spectra(family, params):
    mu = _counts(params, 2e5, family)
    rng = np.random.default_rng(2)
    fit = fit_dijet(EDGES, rng.poisson(mu).astype(float), ~SR, len(params), family=family)
    assert fit.family == family and fit.n_params == len(params)
    assert fit.gof_pvalue > 0.01
    b, sigma_b = predict(fit, SR)
    assert abs(b - mu[SR].sum()) < 3 * sigma_b
    # the density at the centre of the SR's second bin (3.4-3.5 TeV) times its width
    np.testing.assert_allclose(fit.density(np.array([3.45])) * 0.1, mu[SR][1], rtol=0.03)


def test_fit_model_names_and_bad_families():
    assert parse_fit_model("3") == ("dijet", 3) and parse_fit_model("5") == ("dijet", 5)
    assert parse_fit_model("ua2") == ("ua2", 4)
    with pytest.raises(ValueError, match="fit_model must be"):
        parse_fit_model("7")
    with pytest.raises(ValueError, match="ua2 function takes 4 parameters"):
        fit_dijet(EDGES, _counts(UA2, 1e4, "ua2"), ~SR, 3, family="ua2")
    with pytest.raises(ValueError, match="family must be one of"):
        bin_integrals(EDGES, UA2, "exp")
    fit = configured_fit(EDGES, _counts(UA2, 1e5, "ua2"), ~SR, "ua2", 0.05)
    assert fit.family == "ua2"


def test_bias_test_finds_no_bias_for_the_true_function_and_a_large_one_for_a_wrong_one():
    mu = _counts(CURVED4, 1e6)
    right = fit_bias(EDGES, mu, SR, ~SR, "4", 120, seed=1, truth="4")
    wrong = fit_bias(EDGES, mu, SR, ~SR, "3", 120, seed=1, truth="4")
    assert right.n_failed == 0 and abs(right.mean_pull) < 0.3  # 0.09 statistical error
    assert 0.8 < right.std_pull < 1.2  # the fit's sigma_b is honest
    assert wrong.mean_pull < -3  # 3 parameters cannot follow this curvature
    assert right.b_true == pytest.approx(mu[SR].sum())
    with pytest.raises(ValueError, match="exclude the SR"):
        fit_bias(EDGES, mu, SR, np.ones_like(SR), "4", 10, seed=0)


def test_bias_table_has_a_row_per_truth_and_fit():
    counts = np.random.default_rng(4).poisson(_counts(CURVED4, 2e5)).astype(float)
    table = bias_table(EDGES, counts, SR, ~SR, truths=("4", "ua2"), fits=("4", "ftest"), n_toys=20)
    assert list(zip(table.truth, table.fit, strict=True)) == [
        ("4", "4"),
        ("4", "ftest"),
        ("ua2", "4"),
        ("ua2", "ftest"),
    ]
    assert np.isfinite(table.mean_pull).all() and (table.n_toys == 20).all()


def test_fit_range_variation_of_a_well_described_spectrum_is_small():
    counts = np.random.default_rng(5).poisson(_counts(CURVED4, 2e5)).astype(float)
    table = fit_range_variation(EDGES, counts, SR, ~SR, "4", [2.8, 2.9, 3.0])
    assert list(table["low"]) == [2.8, 2.9, 3.0]
    assert table["shift"].iloc[0] == pytest.approx(0.0)  # the nominal range
    # the change of the prediction is a fluctuation of the dropped bins, not a misfit
    assert (table["significance"].iloc[1:].abs() < 3).all()
    assert (table["sigma_b"].diff().dropna() > 0).all()  # less lever arm, larger uncertainty


def test_a_normalisation_beyond_the_float_range_is_inf_not_a_crash():
    # a tight cut's fit can put ln(p0) above 709 (seen with a few events at 4.1-4.5 TeV):
    # the result, with p0 = inf, is still written and plotted
    mu = _counts((1.0, 10.0, 5.0, 0.0), 2e4, "dijet")
    fit = fit_dijet(EDGES, np.random.default_rng(5).poisson(mu).astype(float), ~SR, 4)
    huge = dataclasses.replace(fit, params=fit.params + np.r_[800.0, np.zeros(3)])
    p0, *shape = huge.physics_params()
    assert math.isinf(p0) and np.allclose(shape, fit.params[1:])
    assert math.isfinite(fit.physics_params()[0])
