"""Tests of the conditional flow, its training loop and the mjj KDE (tiny flows, one thread)."""

from __future__ import annotations

import copy
import logging
import pickle
import shutil

import numpy as np
import pytest
import torch
from scipy.stats import ks_2samp, truncnorm
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from anode_cathode.core.training import select_best_epochs
from anode_cathode.density import (
    TRANSFORMS,
    ConditionalFlow,
    LogitPreprocessor,
    MassKDE,
    build_flow,
    refresh_batchnorm,
    scale_learning_rate,
    train_density,
)
from anode_cathode.density.made import MaskedMLP, conditioner_precision
from anode_cathode.density.train import mean_nll

TINY = {"n_blocks": 3, "hidden_features": 16, "batch_size": 128, "learning_rate": 3e-3}

# Conditional toy with a known density: m ~ U(0, 1); x1 | m ~ N(2m, 0.5²) and
# x2 | x1, m ~ N(x1/2 - m, 0.3²), each truncated to a fixed box (exact normalisation).
BOX = ((-1.5, 3.5), (-2.5, 2.5))
SIGMA = (0.5, 0.3)


def _truncnorm_args(mu: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    lo, hi = BOX[j]
    return (lo - mu) / SIGMA[j], (hi - mu) / SIGMA[j], mu, SIGMA[j]


def toy(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    m = rng.uniform(0.0, 1.0, n)
    a, b, mu, s = _truncnorm_args(2.0 * m, 0)
    x1 = truncnorm.rvs(a, b, loc=mu, scale=s, random_state=rng)
    a, b, mu, s = _truncnorm_args(0.5 * x1 - m, 1)
    x2 = truncnorm.rvs(a, b, loc=mu, scale=s, random_state=rng)
    return np.c_[x1, x2], m


def toy_log_density(X: np.ndarray, m: np.ndarray) -> np.ndarray:
    a, b, mu, s = _truncnorm_args(2.0 * m, 0)
    out = truncnorm.logpdf(X[:, 0], a, b, loc=mu, scale=s)
    a, b, mu, s = _truncnorm_args(0.5 * X[:, 0] - m, 1)
    return out + truncnorm.logpdf(X[:, 1], a, b, loc=mu, scale=s)


def tiny_flow(transform: str = "affine", **kw) -> ConditionalFlow:
    params = {**TINY, "epochs": 4, "n_best_epochs": 3, "device": "cpu", "random_state": 0}
    return ConditionalFlow(transform=transform, **{**params, **kw})


@pytest.fixture(scope="module", params=TRANSFORMS)
def fitted(request) -> tuple[ConditionalFlow, np.ndarray, np.ndarray]:
    X, m = toy(3000, seed=1)
    return tiny_flow(request.param).fit(X, m), X, m


# ----------------------------------------------------------------------- contract
def test_contract(fitted, tmp_path, caplog):
    flow, X, m = fitted
    assert clone(flow).get_params() == flow.get_params()
    with pytest.raises(NotFittedError):
        clone(flow).log_prob(X, m)
    n_epochs = flow.epochs
    assert flow.n_features_in_ == 2 and flow.device_ == torch.device("cpu")
    for name in ("train_losses_", "val_losses_", "epoch_times_", "step_times_"):
        assert getattr(flow, name).shape == (n_epochs,)
    assert len(flow.snapshots_) == len(flow.best_epochs_) == 3

    lp = flow.log_prob(X[:200], m[:200])
    assert lp.shape == (200,) and lp.dtype == np.float64 and np.all(np.isfinite(lp))
    Y = X[:5].copy()
    Y[1, 0] = flow.preprocessor_.upper_[0] + 1.0
    Y[3, 1] = flow.preprocessor_.lower_[1] - 1.0
    with caplog.at_level(logging.INFO, logger="anode_cathode.density.flow"):
        lp_y = flow.log_prob(Y, m[:5])
    assert "2 of 5 events lie outside the support" in caplog.text
    assert np.isneginf(lp_y[[1, 3]]).all() and np.all(np.isfinite(lp_y[[0, 2, 4]]))
    np.testing.assert_allclose(lp_y[[0, 2, 4]], lp[[0, 2, 4]], rtol=1e-6)
    with pytest.raises(ValueError, match="features"):
        flow.log_prob(X[:, :1], m)
    with pytest.raises(ValueError, match="NaN"):
        flow.log_prob(X[:3], np.array([0.1, np.nan, 0.2]))

    conditions = np.linspace(0.0, 1.0, 1001)
    S = flow.sample(conditions, random_state=7)
    assert S.shape == (1001, 2) and np.all(np.isfinite(S))  # not (N, 1, d)
    assert np.all(flow.preprocessor_.in_support(S))
    np.testing.assert_array_equal(S, flow.sample(conditions, random_state=7))
    assert not np.array_equal(S, flow.sample(conditions, random_state=8))

    path = tmp_path / "flow.pt"
    flow.save(path)
    for twin in (ConditionalFlow.load(path), pickle.loads(pickle.dumps(flow))):
        assert twin.get_params() == flow.get_params()
        np.testing.assert_array_equal(twin.log_prob(X[:200], m[:200]), lp)
        np.testing.assert_array_equal(twin.sample(conditions, random_state=7), S)
        np.testing.assert_array_equal(twin.best_epochs_, flow.best_epochs_)
        np.testing.assert_array_equal(twin.val_losses_, flow.val_losses_)
        assert twin.train_precision_ == flow.train_precision_ == "float32"


def test_fit_is_deterministic():
    X, m = toy(1500, seed=2)
    a = tiny_flow(epochs=2).fit(X, m)
    b = tiny_flow(epochs=2).fit(X, m)
    np.testing.assert_array_equal(a.val_losses_, b.val_losses_)
    np.testing.assert_array_equal(a.log_prob(X[:100], m[:100]), b.log_prob(X[:100], m[:100]))
    c = tiny_flow(epochs=2, random_state=1).fit(X, m)
    assert not np.array_equal(a.val_losses_, c.val_losses_)


def test_large_sample_is_batched():
    X, m = toy(1000, seed=3)
    flow = tiny_flow("affine", n_blocks=2, hidden_features=8, epochs=1, n_best_epochs=1).fit(X, m)
    S = flow.sample(np.full(500_000, 0.5), random_state=0)
    assert S.shape == (500_000, 2) and np.all(np.isfinite(S))


# ------------------------------------------------------------------ correctness
@pytest.mark.parametrize("transform", TRANSFORMS)
def test_toy_density_and_samples_match_truth(transform):
    """Held-out mean log-likelihood near the true mean log density; sample moments match."""
    X, m = toy(16_000, seed=4)
    X_test, m_test = toy(8000, seed=5)
    flow = tiny_flow(
        transform, n_blocks=4, hidden_features=32, batch_size=256, learning_rate=1e-3, epochs=8
    ).fit(X, m)
    lp = flow.log_prob(X_test, m_test)
    truth = toy_log_density(X_test, m_test)
    inside = np.isfinite(lp)
    assert inside.mean() > 0.999
    gap = truth[inside].mean() - lp[inside].mean()  # an estimate of KL(true || flow) >= 0
    print(f"\n{transform}: mean log p flow {lp[inside].mean():.4f}, true {truth.mean():.4f}")
    assert -0.02 < gap < 0.06

    S = flow.sample(m_test, random_state=0)
    print(f"{transform}: sample mean {S.mean(0)}, true {X_test.mean(0)}")
    np.testing.assert_allclose(S.mean(axis=0), X_test.mean(axis=0), atol=0.03)
    np.testing.assert_allclose(S.std(axis=0), X_test.std(axis=0), rtol=0.04)
    assert np.corrcoef(S.T)[0, 1] == pytest.approx(np.corrcoef(X_test.T)[0, 1], abs=0.05)
    high = m_test > 0.5  # the dependence on the condition is learnt
    np.testing.assert_allclose(S[high].mean(0), X_test[high].mean(0), atol=0.05)


def test_masked_mlp_is_autoregressive():
    torch.manual_seed(0)
    net = MaskedMLP(features=4, context_features=2, hidden_features=24, n_hidden_layers=2,
                    output_multiplier=3)  # fmt: skip
    # connectivity through the masks: output (feature j, parameter k) <- input i or context
    paths = net.mask0
    for i in range(1, len(net.layers)):
        paths = getattr(net, f"mask{i}") @ paths
    reach = (paths > 0).reshape(4, 3, 6)
    allowed = torch.arange(4)[None, :] < torch.arange(4)[:, None]  # input i < output j
    assert torch.equal(reach[..., :4], allowed[:, None, :].expand(4, 3, 4))
    assert reach[..., 4:].all()  # every output, the first feature's too, sees the condition
    # and the network itself: no gradient where the masks forbid one
    x = torch.randn(8, 4, requires_grad=True)
    for k in range(12):
        (grad,) = torch.autograd.grad(net(x, torch.randn(8, 2))[:, k].sum(), x)
        assert torch.all(grad[:, ~allowed[k // 3]] == 0)


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_flow_is_invertible_in_eval_mode(transform):
    torch.manual_seed(0)
    flow = build_flow(3, 1, transform, n_blocks=2, hidden_features=16).eval()
    flow._transform._transforms[1].running_var.fill_(1.0)  # as after training
    x, c = torch.randn(64, 3), torch.randn(64, 1)
    with torch.no_grad():
        z, log_det = flow._transform(x, context=c)
        x_back, inv_log_det = flow._transform.inverse(z, context=c)
    torch.testing.assert_close(x_back, x, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(log_det, -inv_log_det, atol=1e-4, rtol=1e-4)


def test_epoch_ensemble_uses_the_lowest_validation_losses(tmp_path):
    """Snapshots are the models after the best epochs: no off-by-one with an untrained model."""
    X, m = toy(2000, seed=6)
    X_val, m_val = toy(500, seed=7)
    flow = tiny_flow(epochs=6, n_best_epochs=3).fit(X, m, X_val, m_val)
    np.testing.assert_array_equal(flow.best_epochs_, select_best_epochs(flow.val_losses_, 3))
    inside = flow.preprocessor_.in_support(X_val)  # fit() excludes the others too
    z_val = torch.as_tensor(flow.preprocessor_.transform(X_val[inside]), dtype=torch.float32)
    c_val = torch.as_tensor(flow._context(m_val[inside, None]))
    net = flow.build()
    for epoch, state in zip(flow.best_epochs_, flow.snapshots_, strict=True):
        net.load_state_dict(state)
        assert mean_nll(net, z_val, c_val) == pytest.approx(flow.val_losses_[epoch], rel=1e-6)
    # the same through the generic loop, against its per-epoch checkpoint files
    torch.manual_seed(0)
    net = build_flow(2, 1, n_blocks=2, hidden_features=8)
    result = train_density(net, z_val, c_val, z_val, c_val, epochs=5, batch_size=64,
                           learning_rate=1e-3, n_best=2, checkpoint_dir=tmp_path)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"epoch_{i:04d}.pt" for i in range(1, 6)]
    for epoch, state in zip(result.best_epochs, result.snapshots, strict=True):
        saved = torch.load(tmp_path / f"epoch_{epoch + 1:04d}.pt", weights_only=True)
        assert saved["epoch"] == epoch + 1 and saved["val_losses"][-1] == result.val_losses[epoch]
        for key, value in state.items():
            torch.testing.assert_close(saved["model"][key], value, rtol=0, atol=0)


def test_early_stopping():
    X, m = toy(100, seed=8)  # tiny training set: overfits fast
    X_val, m_val = toy(2000, seed=9)
    flow = tiny_flow(hidden_features=32, batch_size=32, learning_rate=1e-2, epochs=100,
                     early_stopping_patience=3).fit(X, m, X_val, m_val)  # fmt: skip
    n = len(flow.val_losses_)
    assert n < 100 and int(np.argmin(flow.val_losses_)) == n - 1 - 3


class _PoisonedGaussian(torch.nn.Module):
    """Unit Gaussian with a learnable mean whose log_prob turns NaN from call ``poison_at``."""

    def __init__(self, poison_at: int) -> None:
        super().__init__()
        self.mean = torch.nn.Parameter(torch.zeros(2))
        self.calls, self.poison_at = 0, poison_at

    def log_prob(self, inputs: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        self.calls += 1
        out = -0.5 * ((inputs - self.mean) ** 2).sum(dim=1)
        return out * torch.nan if self.calls >= self.poison_at else out


def test_non_finite_loss_names_the_epoch():
    X, m = toy(800, seed=10)
    with pytest.raises(FloatingPointError, match="non-finite loss at epoch 1 "):
        tiny_flow(learning_rate=1e6, epochs=3).fit(X, m)
    X[5, 1] = np.nan
    with pytest.raises(FloatingPointError, match=r"at epoch 1 .*training nan.* 1 non-finite"):
        tiny_flow(epochs=3).fit(X, m, X[200:300], m[200:300])
    # 10 batches and one validation pass per epoch: call 25 is a training batch of epoch 3
    x = torch.randn(100, 2)
    with pytest.raises(FloatingPointError, match=r"at epoch 3 .*training nan"):
        train_density(_PoisonedGaussian(25), x, None, x, None, epochs=5, batch_size=10,
                      learning_rate=1e-3)  # fmt: skip
    # call 11 is the validation pass of epoch 1 (after its 10 batches)
    with pytest.raises(FloatingPointError, match=r"at epoch 1 .*validation nan"):
        train_density(_PoisonedGaussian(11), x, None, x, None, epochs=5, batch_size=10,
                      learning_rate=1e-3)  # fmt: skip


def test_validation_events_outside_the_training_range_are_excluded(caplog):
    X, m = toy(1000, seed=11)
    X_val, m_val = toy(300, seed=12)
    X_val[:4, 0] = 99.0
    n_out = int((~LogitPreprocessor(margin=0.01).fit(X).in_support(X_val)).sum())
    assert n_out >= 4  # the fit's preprocessing is fitted on X alone
    with caplog.at_level(logging.INFO, logger="anode_cathode.density.flow"):
        flow = tiny_flow(epochs=1, n_best_epochs=1).fit(X, m, X_val, m_val)
    assert f"{n_out} of 300 validation events lie outside" in caplog.text
    assert np.isfinite(flow.val_losses_).all()


@pytest.mark.parametrize("refresh", [True, False])
def test_batchnorm_refresh_makes_eval_match_training_mode(refresh):
    """Eval-mode log_prob on the training data equals one full-batch training-mode pass."""
    X, m = toy(3000, seed=13)
    X_val, m_val = toy(500, seed=14)
    flow = tiny_flow(epochs=3, refresh_batchnorm=refresh).fit(X, m, X_val, m_val)
    z = torch.as_tensor(flow.preprocessor_.transform(X), dtype=torch.float32)
    c = torch.as_tensor(flow._context(m[:, None]))
    net = flow.build()
    net.load_state_dict(flow.snapshots_[0])
    with torch.no_grad():
        eval_mode = net.eval().log_prob(z, context=c)
        train_mode = copy.deepcopy(net).train().log_prob(z, context=c)
    diff = (eval_mode - train_mode).abs().max().item()
    assert diff < 1e-4 if refresh else diff > 1e-2
    # the function on its own, and its guard against batch norm hidden inside a transform
    net.load_state_dict(flow.snapshots_[-1])
    assert refresh_batchnorm(net, z, c) == TINY["n_blocks"]
    with torch.no_grad():
        diff = (net.eval().log_prob(z, context=c) - net.train().log_prob(z, context=c)).abs()
    assert diff.max().item() < 1e-4
    net._transform._transforms[0].autoregressive_net.bn = torch.nn.BatchNorm1d(4)
    with pytest.raises(NotImplementedError, match="nested"):
        refresh_batchnorm(net, z, c)


def test_batchnorm_refresh_on_a_subset_matches_the_full_refresh():
    """Batch-norm statistics from a random tenth of the events give the same densities."""
    X, m = toy(20_000, seed=15)
    X_val, m_val = toy(2000, seed=16)
    full = tiny_flow(epochs=2).fit(X, m, X_val, m_val)
    part = tiny_flow(epochs=2, refresh_batchnorm_events=2000).fit(X, m, X_val, m_val)
    assert not np.array_equal(full.val_losses_, part.val_losses_)  # the subset was used
    np.testing.assert_allclose(part.val_losses_, full.val_losses_, atol=0.01)
    with pytest.raises(ValueError, match="refresh_batchnorm_events"):
        tiny_flow(refresh_batchnorm_events=0).fit(X, m, X_val, m_val)


def test_scale_learning_rate():
    assert scale_learning_rate(1e-4, 256) == pytest.approx(1e-4)
    assert scale_learning_rate(1e-4, 1024, rule="linear") == pytest.approx(4e-4)
    assert scale_learning_rate(1e-4, 1024, rule="none") == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="rule"):
        scale_learning_rate(1e-4, 1024, rule="cubic")


# ---------------------------------------------------------------------------- KDE
def test_mass_kde_samples_follow_the_signal_region_data():
    rng = np.random.default_rng(15)
    lo, hi = 3.3, 3.7

    def falling(n: int) -> np.ndarray:  # exponential spectrum truncated to the SR
        u = rng.random(n)
        return lo - 0.3 * np.log1p(-u * (1.0 - np.exp(-(hi - lo) / 0.3)))

    data = falling(20_000)
    data[:3] = [lo, lo, 3.5]  # values on the lower bound (the SR is [lo, hi)) are accepted
    kde = MassKDE().fit(data, bounds=(lo, hi))
    s = kde.sample(20_000, random_state=0)
    assert s.shape == (20_000,) and np.all((s > lo) & (s < hi))
    assert ks_2samp(s, falling(20_000)).pvalue > 0.01
    np.testing.assert_array_equal(s, kde.sample(20_000, random_state=0))
    with pytest.raises(ValueError, match="outside"):
        MassKDE().fit([3.2, 3.5], bounds=(lo, hi))
    with pytest.raises(ValueError, match="bandwidth"):
        MassKDE(bandwidth=0.0).fit(data, bounds=(lo, hi))


@pytest.mark.slow  # about 70 s of compilation on a 2-core CPU
@pytest.mark.skipif(shutil.which("g++") is None, reason="torch.compile on CPU needs a C++ compiler")
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_compiled_training_matches_eager():
    X, m = toy(1000, seed=16)
    kw = {"n_blocks": 1, "hidden_features": 8, "epochs": 2}
    eager = tiny_flow(**kw).fit(X, m)
    compiled = tiny_flow(**kw, compile=True).fit(X, m)
    np.testing.assert_allclose(compiled.val_losses_, eager.val_losses_, rtol=1e-4)


def test_physical_bound_closes_a_hard_edge():
    """A mass difference has a hard edge at 0 with its most events there: bounded by the data
    (CATHODE's min-max scaling) the flow leaks samples below 0 and misses events just above;
    bounded by physics it does neither."""
    rng = np.random.default_rng(6)
    m = rng.uniform(0.0, 1.0, 40_000)
    d = rng.exponential(0.1 + 0.1 * m)  # the edge: density largest at d = 0
    X = np.c_[d, rng.normal(d, 0.2)]
    m_test = rng.uniform(0.0, 1.0, 100_000)
    truth = rng.exponential(0.1 + 0.1 * m_test)
    edge = (0.0, 0.02)
    kw = {"n_blocks": 4, "hidden_features": 32, "batch_size": 256, "epochs": 6}
    in_edge = {}
    for bounds in (None, [0.0, None]):
        S = tiny_flow(lower_bounds=bounds, **kw).fit(X, m).sample(m_test, random_state=0)
        ratio = np.histogram(S[:, 0], edge)[0][0] / np.histogram(truth, edge)[0][0]
        in_edge[bounds is not None] = (ratio, np.mean(S[:, 0] < 0.0))
    print(f"\nedge bin samples/truth, fraction below 0: {in_edge}")
    assert in_edge[True][1] == 0.0 and 0.9 < in_edge[True][0] < 1.1
    assert in_edge[False][1] > 1e-3 and in_edge[False][0] < in_edge[True][0]


# ------------------------------------------------------------------ mixed precision
def test_bfloat16_conditioner_keeps_the_flow_autoregressive_and_float32():
    torch.manual_seed(0)
    flow = build_flow(4, 1, n_blocks=2, hidden_features=16)
    net = next(m for m in flow.modules() if isinstance(m, MaskedMLP))
    x = torch.randn(8, 4, requires_grad=True)
    with conditioner_precision(flow, "bfloat16"):
        out = net(x, torch.randn(8, 1))
        lp = flow.log_prob(x.detach(), context=torch.randn(8, 1))
    assert out.dtype == torch.float32 and lp.dtype == torch.float32
    (grad,) = torch.autograd.grad(out[:, 0:2].sum(), x)  # feature 1's shift and scale
    assert torch.all(grad == 0)  # see only the condition, in bfloat16 too
    lp.sum().backward()
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in flow.parameters())
    assert net.compute_dtype is None  # restored on leaving
    with pytest.raises(ValueError, match="precision must be one of"):
        with conditioner_precision(flow, "float16"):
            pass


def test_bfloat16_training_matches_float32():
    """Mixed precision in the training steps changes the fit by far less than a seed does."""
    X, m = toy(16_000, seed=4)
    X_test, m_test = toy(8000, seed=5)
    kw = {"n_blocks": 4, "hidden_features": 32, "batch_size": 256, "learning_rate": 1e-3,
          "epochs": 6}  # fmt: skip
    full = tiny_flow(**kw).fit(X, m)
    mixed = tiny_flow(**kw, train_precision="bfloat16").fit(X, m)
    other_seed = tiny_flow(**kw, random_state=1).fit(X, m)
    shift = np.abs(mixed.val_losses_ - full.val_losses_).max()
    seed_shift = np.abs(other_seed.val_losses_ - full.val_losses_).max()
    print(f"\nval loss change: bfloat16 {shift:.5f}, another seed {seed_shift:.5f}")
    assert shift < 0.2 * seed_shift
    gap = toy_log_density(X_test, m_test).mean() - mixed.log_prob(X_test, m_test).mean()
    assert -0.02 < gap < 0.06
    nets = [mod for mod in mixed._network(torch.device("cpu"), mixed.snapshots_[0]).modules()
            if isinstance(mod, MaskedMLP)]  # fmt: skip
    assert nets and all(net.compute_dtype is None for net in nets)  # inference is float32
    with pytest.raises(ValueError, match="train_precision must be one of"):
        tiny_flow(train_precision="half").fit(X, m)


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_follows_the_hardware(monkeypatch, caplog, native):
    monkeypatch.setattr("anode_cathode.density.flow.native_bfloat16", lambda device: native)
    X, m = toy(500, seed=3)
    with caplog.at_level(logging.INFO, logger="anode_cathode.density.flow"):
        flow = tiny_flow(train_precision="auto", epochs=1, n_best_epochs=1).fit(X, m)
    expected = "bfloat16" if native else "float32"
    assert flow.train_precision_ == expected and f"training steps in {expected}" in caplog.text
