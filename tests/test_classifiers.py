"""Tests of the classifiers: one sklearn contract over every estimator plus specific checks."""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Callable

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

from anode_cathode.classifiers import BDTClassifier, MLPClassifier, make_classifier
from anode_cathode.classifiers.mlp import build_mlp
from anode_cathode.core.training import TopKSnapshots, select_best_epochs
from anode_cathode.core.validation import balanced_sample_weight

ESTIMATORS: dict[str, Callable[..., object]] = {
    "mlp": lambda **kw: MLPClassifier(
        epochs=6, n_best_epochs=3, batch_size=64, device="cpu", n_threads=1, **kw
    ),
    "bdt-hgb": lambda **kw: BDTClassifier("hgb", n_models=3, max_iter=40, n_threads=1, **kw),
    "bdt-xgboost": lambda **kw: BDTClassifier(
        "xgboost", n_models=3, max_iter=40, n_threads=1, **kw
    ),
}
KINDS = list(ESTIMATORS)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def blobs(n: int, seed: int, *, shift: float = 1.5, frac: float = 0.5, d: int = 4):
    """Gaussian background at 0 and signal shifted by ``shift`` in every feature."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < frac).astype(np.int64)
    X = rng.normal(size=(n, d)) + shift * y[:, None]
    return X, y


# ---------------------------------------------------------------------- contract
@pytest.mark.parametrize("kind", KINDS)
def test_estimator_contract(kind, tmp_path):
    est = ESTIMATORS[kind](random_state=3)
    X, y = blobs(1500, 0)
    labels = np.array(["background", "signal"])[y]  # arbitrary labels are kept in classes_

    twin = clone(est)
    assert twin.get_params() == est.get_params()
    assert type(est)(**est.get_params()).get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        est.predict(X)
    with pytest.raises(NotFittedError):
        est.predict_proba(X)

    assert est.fit(X, labels) is est
    assert list(est.classes_) == ["background", "signal"] and est.n_features_in_ == 4
    proba = est.predict_proba(X[:300])
    assert proba.shape == (300, 2)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # the decision function is the logit of the probability: real-valued, threshold 0
    decision = est.decision_function(X[:300])
    np.testing.assert_allclose(decision, np.log(proba[:, 1] / proba[:, 0]), rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(est.predict(X[:300]), est.classes_[(decision > 0).astype(int)])
    assert set(est.predict(X[:300])) <= {"background", "signal"}
    with pytest.raises(ValueError, match="features"):
        est.predict_proba(X[:, :3])

    # deterministic for a fixed random_state; the clone is still unfitted
    with pytest.raises(NotFittedError):
        twin.predict(X)
    np.testing.assert_array_equal(twin.fit(X, labels).predict_proba(X[:300]), proba)

    # pickle and joblib round trips give identical predictions
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict_proba(X[:300]), proba)
    joblib.dump(est, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X[:300]), proba)


_BY_DESIGN = {
    "check_class_weight_classifiers": "class_weight is 'balanced' or None (no dicts)",
    "check_sample_weight_equivalence_on_dense_data": "stratified validation split needs 2 rows "
    "per class",
}
_EXPECTED_FAILURES = {
    "mlp": {**_BY_DESIGN, "check_estimators_nan_inf": "NaN in fit: FloatingPointError + epoch"},
    "bdt-hgb": {**_BY_DESIGN, "check_non_transformer_estimators_n_iter": "no n_iter_ (per member)"},
}
_EXPECTED_FAILURES["bdt-xgboost"] = _EXPECTED_FAILURES["bdt-hgb"]


@pytest.mark.parametrize("kind", KINDS)
def test_sklearn_estimator_checks(kind):
    pytest.importorskip("sklearn", minversion="1.6")  # expected_failed_checks
    from sklearn.utils.estimator_checks import check_estimator

    est = ESTIMATORS[kind](random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(est, expected_failed_checks=_EXPECTED_FAILURES[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_learns_separable_and_not_noise(kind):
    X, y = blobs(2000, 1)
    X_test, y_test = blobs(4000, 2)
    est = ESTIMATORS[kind](random_state=0).fit(X, y)
    assert roc_auc_score(y_test, est.predict_proba(X_test)[:, 1]) > 0.95

    noise_y = np.random.default_rng(5).integers(0, 2, size=len(y))
    noise_test = np.random.default_rng(6).integers(0, 2, size=len(y_test))
    est = ESTIMATORS[kind](random_state=0).fit(X, noise_y)
    assert abs(roc_auc_score(noise_test, est.predict_proba(X_test)[:, 1]) - 0.5) < 0.05


@pytest.mark.parametrize("kind", KINDS)
def test_class_weighting_with_rare_positives(kind):
    X, y = blobs(6000, 3, shift=1.5, frac=0.01)
    est = ESTIMATORS[kind](random_state=0).fit(X, y)
    score = est.decision_function(X)
    assert score[y == 1].mean() > score[y == 0].mean() + 0.3
    assert 0 < est.predict(X).sum() < len(y)  # balanced: a real fraction is called positive
    # balancing matters: without it scores sit near the 1 % base rate
    flat = ESTIMATORS[kind](random_state=0, class_weight=None).fit(X, y).decision_function(X)
    assert flat.mean() < score.mean() and flat[y == 1].mean() < score[y == 1].mean()


@pytest.mark.parametrize("kind", KINDS)
def test_zero_sample_weight_equals_dropping(kind):
    X, y = blobs(2000, 4)
    X_test, _ = blobs(500, 5)
    subset = np.zeros(len(y), dtype=bool)
    subset[:600] = True
    y_bad = y.copy()
    y_bad[subset] = 1 - y_bad[subset]  # flipped labels: the subset matters if it is used
    w = np.where(subset, 0.0, 1.0)

    dropped = ESTIMATORS[kind](random_state=0).fit(X[~subset], y[~subset]).predict_proba(X_test)
    zeroed = ESTIMATORS[kind](random_state=0).fit(X, y_bad, w).predict_proba(X_test)
    used = ESTIMATORS[kind](random_state=0).fit(X, y_bad).predict_proba(X_test)
    assert np.max(np.abs(zeroed - dropped)) < 1e-6
    assert np.mean(np.abs(used - dropped)) > 0.05


# ------------------------------------------------------------------- ensembles
def test_select_best_epochs_order_and_k():
    losses = [0.9, 0.5, 0.7, 0.4, 0.6]
    np.testing.assert_array_equal(select_best_epochs(losses, 3), [3, 1, 4])
    np.testing.assert_array_equal(select_best_epochs(losses, 99), [3, 1, 4, 2, 0])
    np.testing.assert_array_equal(select_best_epochs([0.3, 0.2, 0.3, 0.2], 3), [1, 3, 0])
    assert select_best_epochs(np.array(losses), 1).dtype == np.int64
    with pytest.raises(ValueError, match="k must be"):
        select_best_epochs(losses, 0)
    with pytest.raises(ValueError, match="non-empty"):
        select_best_epochs([], 1)


def test_select_best_epochs_no_off_by_one():
    losses = np.linspace(1.0, 0.1, 10)  # improves every epoch: the last trained model is best
    best = select_best_epochs(losses, 3)
    np.testing.assert_array_equal(best, [9, 8, 7])
    assert best.max() == len(losses) - 1


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_select_best_epochs_rejects_non_finite(bad):
    losses = [0.5, 0.4, bad, 0.3, bad]
    with pytest.raises(FloatingPointError, match=r"epoch\(s\) 3 .*, 5 "):
        select_best_epochs(losses, 2)


def test_top_k_snapshots_match_select_best_epochs():
    rng = np.random.default_rng(0)
    losses = np.round(rng.random(50), 1)  # many ties
    keep: TopKSnapshots[int] = TopKSnapshots(7)
    calls = []
    for i, loss in enumerate(losses):
        keep.offer(i, loss, lambda i=i: calls.append(i) or i)
    np.testing.assert_array_equal(keep.indices, select_best_epochs(losses, 7))
    assert keep.snapshots == list(keep.indices)
    assert len(calls) < len(losses)  # snapshots are taken only for epochs that are kept
    with pytest.raises(FloatingPointError, match="epoch 51"):
        keep.offer(50, np.nan, lambda: 0)


def test_balanced_sample_weight():
    y = np.array([0] * 90 + [1] * 10)
    w = balanced_sample_weight(y)
    assert w.mean() == pytest.approx(1.0)
    assert w[y == 0].sum() == pytest.approx(w[y == 1].sum())
    sw = np.r_[np.full(90, 2.0), np.linspace(0.5, 1.5, 10)]
    w = balanced_sample_weight(y, sw)
    assert w.mean() == pytest.approx(1.0)
    assert w[y == 0].sum() == pytest.approx(w[y == 1].sum())
    np.testing.assert_allclose(w[y == 1] / w[y == 1][0], sw[y == 1] / sw[y == 1][0])
    with pytest.raises(ValueError, match="zero total"):
        balanced_sample_weight(y, np.where(y == 1, 0.0, 1.0))


# ------------------------------------------------------------------------- MLP
def _network_outputs(clf: MLPClassifier, X: np.ndarray) -> list[np.ndarray]:
    """Sigmoid outputs of every stored snapshot, loaded by hand."""
    Xs = torch.as_tensor(((X - clf.mean_) / clf.scale_).astype(np.float32))
    outputs = []
    for state in clf.snapshots_:
        net = build_mlp(clf.n_features_in_, clf.hidden_layers)
        net.load_state_dict(state)
        with torch.no_grad():
            outputs.append(torch.sigmoid(net(Xs)).squeeze(1).double().numpy())
    return outputs


def test_mlp_prediction_is_mean_of_best_snapshots():
    X, y = blobs(2000, 7)
    clf = MLPClassifier(epochs=7, n_best_epochs=3, batch_size=64, device="cpu", random_state=1)
    clf.fit(X, y)
    assert len(clf.train_losses_) == len(clf.val_losses_) == 7
    np.testing.assert_array_equal(clf.best_epochs_, select_best_epochs(clf.val_losses_, 3))
    outputs = _network_outputs(clf, X[:500])
    assert len(outputs) == 3
    np.testing.assert_allclose(
        clf.predict_proba(X[:500])[:, 1], np.mean(outputs, axis=0), atol=1e-6
    )


def test_mlp_scores_of_confident_events_do_not_tie():
    """Logits of 20-30 are 1.0 for a float32 sigmoid; the scores must keep their order."""
    X, y = blobs(1000, 12)
    clf = MLPClassifier(epochs=1, n_best_epochs=1, device="cpu", random_state=3).fit(X, y)
    last = [k for k in clf.snapshots_[0] if k.endswith("weight")][-1]
    bias = last.replace("weight", "bias")
    clf.snapshots_[0][last] = torch.zeros_like(clf.snapshots_[0][last])
    clf.snapshots_[0][last][0, 0] = 1.0  # logit = first hidden unit of the last layer + 20
    clf.snapshots_[0][bias] = torch.full_like(clf.snapshots_[0][bias], 20.0)
    hidden = _network_outputs(clf, X)[0]  # float32 sigmoid: every event ties at 1.0
    assert np.all(hidden == 1.0)
    p = clf.predict_proba(X)[:, 1]
    logit = np.log(p) - np.log1p(-p)
    assert np.all(p < 1.0) and logit.min() >= 19.99
    n_distinct_logits = len(np.unique(np.round(logit, 6)))
    assert len(np.unique(p)) == n_distinct_logits > 10  # distinct logits, distinct scores


def test_mlp_snapshots_belong_to_their_epochs():
    X, y = blobs(1500, 8)
    X_val, y_val = blobs(800, 9)
    clf = MLPClassifier(epochs=4, n_best_epochs=4, batch_size=64, device="cpu", random_state=2)
    clf.fit(X, y, X_val=X_val, y_val=y_val)
    w = balanced_sample_weight(y_val)
    for epoch, p in zip(clf.best_epochs_, _network_outputs(clf, X_val), strict=True):
        bce = -(y_val * np.log(p) + (1 - y_val) * np.log1p(-p))
        assert np.sum(w * bce) / np.sum(w) == pytest.approx(clf.val_losses_[epoch], rel=1e-4)


def test_mlp_keeps_all_epochs_when_fewer_than_n_best(capsys):
    X, y = blobs(500, 10)
    clf = MLPClassifier(epochs=2, n_best_epochs=10, device="cpu", random_state=0).fit(X, y)
    assert sorted(clf.best_epochs_) == [0, 1] and len(clf.snapshots_) == 2
    assert capsys.readouterr().out == ""
    MLPClassifier(epochs=2, device="cpu", random_state=0, verbose=True).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and "val loss" in lines[1]


def test_mlp_nan_input_raises_with_epoch():
    X, y = blobs(500, 11)
    X[17, 2] = np.nan
    with pytest.raises(FloatingPointError, match=r"epoch 1 .*1 non-finite"):
        MLPClassifier(epochs=3, device="cpu", random_state=0).fit(X, y)


def test_mlp_save_load(tmp_path):
    X, y = blobs(500, 12)
    clf = MLPClassifier(epochs=3, n_best_epochs=2, device="cpu", random_state=0).fit(X, y)
    clf.save(tmp_path / "mlp.pt")
    loaded = MLPClassifier.load(tmp_path / "mlp.pt")
    assert loaded.get_params() == clf.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


# ------------------------------------------------------------------------- BDT
@pytest.mark.parametrize("backend", ["hgb", "xgboost"])
def test_bdt_members_differ_and_average(backend):
    X, y = blobs(1500, 13)
    clf = BDTClassifier(backend, n_models=3, max_iter=30, n_threads=1, random_state=0).fit(X, y)
    members = [m.predict_proba(X)[:, 1].astype(np.float64) for m in clf.estimators_]
    assert len({m.get_params()["random_state"] for m in clf.estimators_}) == 3
    for i in range(3):
        for j in range(i):
            assert not np.allclose(members[i], members[j])
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], np.mean(members, axis=0))


@pytest.mark.parametrize("backend", ["hgb", "xgboost"])
def test_bdt_fits_only_on_passed_data(backend, monkeypatch):
    if backend == "hgb":
        cls = HistGradientBoostingClassifier
    else:
        cls = pytest.importorskip("xgboost").XGBClassifier
    seen: list[tuple[np.ndarray, list]] = []
    original = cls.fit

    def spy(self, X, y, *args, **kwargs):
        seen.append((np.asarray(X), [np.asarray(e[0]) for e in kwargs.get("eval_set") or []]))
        return original(self, X, y, *args, **kwargs)

    monkeypatch.setattr(cls, "fit", spy)
    X_all, y_all = blobs(3000, 14)
    train = np.arange(3000) < 1200  # the rest must never reach a member
    BDTClassifier(backend, n_models=3, max_iter=20, n_threads=1, random_state=0).fit(
        X_all[train], y_all[train]
    )
    assert len(seen) == 3
    passed = {row.tobytes() for row in X_all[train]}
    for X_fit, evals in seen:
        rows = [r.tobytes() for r in np.concatenate([X_fit, *evals])]
        assert set(rows) <= passed and len(rows) == len(passed)  # subsets of the passed X only
    if backend == "xgboost":  # members hold out different validation rows
        assert not np.array_equal(seen[0][1][0], seen[1][1][0])


def test_bdt_backend_errors_and_missing_values():
    X, y = blobs(400, 15)
    clf = BDTClassifier(backend="lightgbm")  # no validation in __init__
    with pytest.raises(ValueError, match=r"lightgbm.*\['hgb', 'xgboost'\]"):
        clf.fit(X, y)
    X[::7, 1] = np.nan  # trees treat NaN as missing
    proba = BDTClassifier(n_models=2, max_iter=10, n_threads=1, random_state=0).fit(X, y)
    assert np.all(np.isfinite(proba.predict_proba(X)))


# --------------------------------------------------------------------- factory
def test_make_classifier():
    mlp = make_classifier("mlp", {"epochs": 5}, random_state=4, n_threads=1, device="cpu")
    assert isinstance(mlp, MLPClassifier)
    assert (mlp.epochs, mlp.random_state, mlp.n_threads, mlp.device) == (5, 4, 1, "cpu")
    bdt = make_classifier("bdt", {"backend": "xgboost"}, random_state=4, n_threads=2)
    assert isinstance(bdt, BDTClassifier) and (bdt.backend, bdt.n_threads) == ("xgboost", 2)
    with pytest.raises(ValueError, match="'svm'"):
        make_classifier("svm", {}, random_state=0, n_threads=1)
    with pytest.raises(ValueError, match="'n_layers'"):
        make_classifier("mlp", {"n_layers": 3}, random_state=0, n_threads=1)
    with pytest.raises(ValueError, match="'random_state'"):
        make_classifier("bdt", {"random_state": 1}, random_state=0, n_threads=1)


def test_mlp_early_stopping_and_checkpoints(tmp_path):
    """The MLP trains on the package's one loop: early stopping and per-epoch checkpoints."""
    X, y = blobs(120, 13, shift=0.2)  # tiny and hard: the validation loss soon rises
    X_val, y_val = blobs(2000, 14, shift=0.2)
    clf = MLPClassifier(
        hidden_layers=(64, 64),
        learning_rate=1e-2,
        batch_size=16,
        epochs=60,
        n_best_epochs=3,
        early_stopping_patience=4,
        checkpoint_dir=tmp_path,
        device="cpu",
        random_state=0,
    ).fit(X, y, X_val=X_val, y_val=y_val)
    n = len(clf.val_losses_)
    assert n < 60 and int(np.argmin(clf.val_losses_)) == n - 1 - 4
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"epoch_{e:04d}.pt" for e in range(1, n + 1)
    ]
    last = torch.load(tmp_path / f"epoch_{n:04d}.pt", weights_only=True)
    assert last["epoch"] == n and last["val_losses"] == pytest.approx(list(clf.val_losses_))
    with pytest.raises(ValueError, match="early_stopping_patience"):
        MLPClassifier(early_stopping_patience=0).fit(X, y)
