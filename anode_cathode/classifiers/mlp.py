"""Multilayer perceptron classifier with an epoch ensemble (the CATHODE classifier).

Reference setup (arXiv:2109.00546; docs/methods.md): 3 hidden layers of 64 ReLU units, sigmoid
output, class-balanced binary cross-entropy, Adam (lr 1e-3), batch 128, 100 epochs; predictions
are the mean of the models after the 10 epochs with the lowest validation loss.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from torch import nn

from anode_cathode.classifiers.base import ProbabilityMixin
from anode_cathode.core.device import inference_device, resolve_device, torch_threads
from anode_cathode.core.files import atomic_path
from anode_cathode.core.training import train_epochs
from anode_cathode.core.validation import (
    balanced_sample_weight,
    check_features,
    check_sample_weight,
    encode_binary_target,
)

__all__ = ["MLPClassifier", "build_mlp"]

#: Rows per forward pass at inference and validation (bounds activation memory).
_CHUNK = 65_536
_FITTED = ("classes_", "mean_", "scale_", "train_losses_", "val_losses_", "best_epochs_")


def build_mlp(
    n_features: int, hidden_layers: Sequence[int], generator: torch.Generator | None = None
) -> nn.Sequential:
    """ReLU network with one output logit; uniform(±1/sqrt(fan_in)) init drawn from ``generator``.

    The init matches torch's default for ``nn.Linear`` but uses ``generator`` instead of the
    global random state, so fits are reproducible without side effects.
    """
    sizes = [int(n_features), *(int(h) for h in hidden_layers)]
    layers: list[nn.Module] = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    layers.append(nn.Linear(sizes[-1], 1))
    with torch.no_grad():
        for layer in layers:
            if isinstance(layer, nn.Linear):
                bound = 1.0 / np.sqrt(layer.in_features)
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)
    return nn.Sequential(*layers)


class MLPClassifier(ProbabilityMixin, ClassifierMixin, BaseEstimator):
    """Binary MLP classifier predicting with the mean of its best epochs.

    Parameters
    ----------
    hidden_layers
        Widths of the hidden ReLU layers.
    learning_rate, weight_decay
        Adam settings.
    batch_size, epochs
        Mini-batch size and number of passes over the training data.
    n_best_epochs
        Number of epochs (lowest validation loss) whose models are averaged at prediction.
    early_stopping_patience
        Stop after this many epochs without a lower validation loss (``None``: never).
    validation_fraction
        Stratified fraction held out for validation when ``fit`` gets no ``X_val``.
    class_weight
        ``"balanced"`` (each class gets equal total weight) or ``None``.
    standardize
        Standardise inputs with mean and standard deviation of the training data.
    device
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``
        (see :func:`~anode_cathode.core.device.resolve_device`).
    n_threads
        ``torch.set_num_threads`` during fit and predict when given (restored afterwards).
    random_state
        Seed for the validation split, the initial weights and the batch order.
    checkpoint_dir
        If given, the model and optimizer state are written there after every epoch.
    verbose
        Print one line per epoch (epoch, training loss, validation loss, time).

    Attributes
    ----------
    classes_, n_features_in_
        Class labels and number of input features.
    train_losses_, val_losses_
        Weighted BCE per epoch; entry ``i`` is the model after epoch ``i + 1``.
    best_epochs_
        0-based indices of the averaged epochs, best first (fewer than ``epochs`` entries
        when early stopping ended the fit).
    snapshots_
        CPU state dicts of the networks in :attr:`best_epochs_` (load into :func:`build_mlp`).
    mean_, scale_
        Input standardisation (zeros and ones when ``standardize=False``).
    device_
        ``torch.device`` used for training.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(-1, 1, (500, 2)), rng.normal(1, 1, (500, 2))]
    >>> y = np.r_[np.zeros(500), np.ones(500)]
    >>> clf = MLPClassifier(epochs=3, n_best_epochs=2, device="cpu", random_state=0).fit(X, y)
    >>> clf.predict_proba(X).shape, len(clf.val_losses_), len(clf.best_epochs_)
    ((1000, 2), 3, 2)
    """

    def __init__(
        self,
        hidden_layers: Sequence[int] = (64, 64, 64),
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        batch_size: int = 128,
        epochs: int = 100,
        n_best_epochs: int = 10,
        early_stopping_patience: int | None = None,
        validation_fraction: float = 0.2,
        class_weight: str | None = "balanced",
        standardize: bool = True,
        device: str = "auto",
        n_threads: int | None = None,
        random_state: int | np.random.RandomState | None = None,
        checkpoint_dir: str | os.PathLike | None = None,
        verbose: bool = False,
    ) -> None:
        self.hidden_layers = hidden_layers
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.n_best_epochs = n_best_epochs
        self.early_stopping_patience = early_stopping_patience
        self.validation_fraction = validation_fraction
        self.class_weight = class_weight
        self.standardize = standardize
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.checkpoint_dir = checkpoint_dir
        self.verbose = verbose

    def __sklearn_tags__(self) -> Any:  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _more_tags(self) -> dict[str, Any]:  # scikit-learn < 1.6
        return {"binary_only": True}

    # ------------------------------------------------------------------ fitting
    def _check_params(self, need_split: bool) -> None:
        for name in ("batch_size", "epochs", "n_best_epochs"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        patience = self.early_stopping_patience
        if patience is not None and int(patience) < 1:
            raise ValueError(f"early_stopping_patience must be None or >= 1, got {patience}")
        if any(int(h) < 1 for h in self.hidden_layers):
            raise ValueError(f"hidden_layers must be positive widths, got {self.hidden_layers}")
        if not self.learning_rate > 0 or self.weight_decay < 0:
            raise ValueError("learning_rate must be > 0 and weight_decay >= 0")
        if self.class_weight not in ("balanced", None):
            raise ValueError(f"class_weight must be 'balanced' or None, got {self.class_weight!r}")
        if need_split and not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(
                "validation_fraction must be in (0, 1) without X_val, "
                f"got {self.validation_fraction}"
            )

    def _weights(self, y01: np.ndarray, w: np.ndarray) -> np.ndarray:
        return balanced_sample_weight(y01, w) if self.class_weight == "balanced" else w

    def _encode_val(self, y_val: Any) -> np.ndarray:
        y_val = np.asarray(y_val).reshape(-1)
        unknown = ~np.isin(y_val, self.classes_)
        if np.any(unknown):
            raise ValueError(f"y_val has labels not in y: {np.unique(y_val[unknown]).tolist()}")
        return np.searchsorted(self.classes_, y_val).astype(np.float64)

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        X_val: Any = None,
        y_val: Any = None,
        sample_weight_val: Any = None,
    ) -> MLPClassifier:
        """Train on ``(X, y)``; validate on ``(X_val, y_val)`` or a stratified held-out part.

        Rows with zero weight are dropped before anything else. Non-finite losses (for example
        from NaN inputs or divergence) raise :class:`FloatingPointError` naming the epoch.
        """
        self._check_params(need_split=X_val is None)
        if (X_val is None) != (y_val is None):
            raise ValueError("X_val and y_val must be given together")
        X = check_features(X, allow_nan=True, dtype=np.float32)
        self.classes_, y01 = encode_binary_target(y)
        if y01.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {y01.shape[0]}")
        w = check_sample_weight(sample_weight, X.shape[0])
        self.n_features_in_ = X.shape[1]
        rng = check_random_state(self.random_state)
        split_seed, init_seed, batch_seed = (int(s) for s in rng.randint(0, 2**31 - 1, size=3))
        keep = w > 0
        X, y01, w = X[keep], y01[keep], w[keep]
        if X_val is None:
            idx_tr, idx_val = train_test_split(
                np.arange(X.shape[0]),
                test_size=self.validation_fraction,
                stratify=y01,
                random_state=split_seed,
            )
            X_tr, y_tr, w_tr = X[idx_tr], y01[idx_tr], w[idx_tr]
            X_va, y_va, w_va = X[idx_val], y01[idx_val], w[idx_val]
        else:
            X_tr, y_tr, w_tr = X, y01, w
            X_va = check_features(X_val, allow_nan=True, dtype=np.float32)
            y_va = self._encode_val(y_val)
            w_va = check_sample_weight(sample_weight_val, X_va.shape[0])
            if X_va.shape != (y_va.shape[0], self.n_features_in_):
                raise ValueError(f"X_val has shape {X_va.shape}, y_val {y_va.shape}")
        w_tr, w_va = self._weights(y_tr, w_tr), self._weights(y_va, w_va)
        if self.standardize:
            self.mean_ = X_tr.mean(axis=0, dtype=np.float64).astype(np.float32)
            std = X_tr.std(axis=0, dtype=np.float64)
            self.scale_ = np.where(std > 0, std, 1.0).astype(np.float32)
        else:
            self.mean_ = np.zeros(self.n_features_in_, dtype=np.float32)
            self.scale_ = np.ones(self.n_features_in_, dtype=np.float32)
        self.device_ = resolve_device(self.device)
        n_bad = int(np.sum(~np.isfinite(X_tr))) + int(np.sum(~np.isfinite(X_va)))
        hint = f"; the inputs contain {n_bad} non-finite values" if n_bad else ""
        with torch_threads(self.n_threads):
            self._train(X_tr, y_tr, w_tr, X_va, y_va, w_va, init_seed, batch_seed, hint)
        return self

    def _to_device(self, *arrays: np.ndarray) -> list[torch.Tensor]:
        return [torch.as_tensor(a, dtype=torch.float32).to(self.device_) for a in arrays]

    def _train(
        self,
        X_tr: np.ndarray,
        y_tr: np.ndarray,
        w_tr: np.ndarray,
        X_va: np.ndarray,
        y_va: np.ndarray,
        w_va: np.ndarray,
        init_seed: int,
        batch_seed: int,
        hint: str,
    ) -> None:
        """Train through the shared loop (:func:`~anode_cathode.core.training.train_epochs`)."""
        dev = self.device_
        Xt, yt, wt = self._to_device((X_tr - self.mean_) / self.scale_, y_tr, w_tr)
        Xv, yv, wv = self._to_device((X_va - self.mean_) / self.scale_, y_va, w_va)
        net = build_mlp(
            self.n_features_in_,
            self.hidden_layers,
            torch.Generator().manual_seed(init_seed),
        ).to(dev)

        def batch_loss(xb: torch.Tensor, yb: torch.Tensor, wb: torch.Tensor):
            loss = F.binary_cross_entropy_with_logits(net(xb).squeeze(1), yb, weight=wb)
            return loss, loss.detach() * xb.shape[0]

        result = train_epochs(
            net,
            [Xt, yt, wt],
            batch_loss,
            lambda: self._loss(net, Xv, yv, wv),
            epochs=int(self.epochs),
            batch_size=int(self.batch_size),
            learning_rate=float(self.learning_rate),
            weight_decay=float(self.weight_decay),
            n_best=int(self.n_best_epochs),
            loss_norm=float(w_tr.sum()),
            early_stopping_patience=self.early_stopping_patience,
            seed=batch_seed,
            checkpoint_dir=self.checkpoint_dir,
            description=type(self).__name__,
            verbose=bool(self.verbose),
            hint=hint,
        )
        self.train_losses_ = result.train_losses
        self.val_losses_ = result.val_losses
        self.best_epochs_ = result.best_epochs
        self.snapshots_ = result.snapshots

    @staticmethod
    def _loss(net: nn.Module, X: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> float:
        """Weighted mean BCE, ``sum(w * bce) / sum(w)``, without gradients."""
        net.eval()
        total = torch.zeros((), dtype=torch.float64, device=X.device)
        with torch.no_grad():
            for s in range(0, X.shape[0], _CHUNK):
                logit = net(X[s : s + _CHUNK]).squeeze(1)
                total += F.binary_cross_entropy_with_logits(
                    logit, y[s : s + _CHUNK], weight=w[s : s + _CHUNK], reduction="sum"
                )
        return total.item() / float(w.sum())

    # --------------------------------------------------------------- prediction
    def _positive_probability(self, X: Any) -> np.ndarray:
        """Mean sigmoid output of the best-epoch networks, shape ``(N,)``, in [0, 1].

        The sigmoid is taken in float64: in float32 it rounds to 1 above a logit of ~17 and
        spaces its values ~6e-8 apart near 1, so the most signal-like events would tie and a
        tight cut would keep more than its fraction.
        """
        check_is_fitted(self, _FITTED)
        X = check_features(
            X,
            allow_nan=False,
            dtype=np.float32,
            n_features=self.n_features_in_,
            owner=type(self).__name__,
        )
        dev = inference_device(self.device_)
        with torch_threads(self.n_threads), torch.inference_mode():
            Xt = torch.as_tensor((X - self.mean_) / self.scale_).to(dev)
            net = build_mlp(self.n_features_in_, self.hidden_layers).to(dev).eval()
            out = torch.zeros(X.shape[0], dtype=torch.float64, device=dev)
            for state in self.snapshots_:
                net.load_state_dict(state)
                for s in range(0, X.shape[0], _CHUNK):
                    logit = net(Xt[s : s + _CHUNK]).squeeze(1).double()
                    out[s : s + _CHUNK] += torch.sigmoid(logit)
            return (out / len(self.snapshots_)).cpu().numpy()

    # ------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write parameters and fitted state with :func:`torch.save` (``weights_only`` safe)."""
        check_is_fitted(self, _FITTED)
        params = self.get_params()
        if isinstance(params["random_state"], np.random.RandomState):
            params["random_state"] = None
        params["hidden_layers"] = [int(h) for h in params["hidden_layers"]]
        if params["checkpoint_dir"] is not None:
            params["checkpoint_dir"] = str(params["checkpoint_dir"])
        fitted = {
            "classes_": self.classes_.tolist(),
            "n_features_in_": int(self.n_features_in_),
            "device_": str(self.device_),
            "best_epochs_": self.best_epochs_.tolist(),
            "snapshots_": self.snapshots_,
            **{k: torch.from_numpy(getattr(self, k)) for k in ("mean_", "scale_")},
            **{k: getattr(self, k).tolist() for k in ("train_losses_", "val_losses_")},
        }
        with atomic_path(path) as tmp:  # a killed job never leaves a half-written model
            torch.save({"params": params, "fitted": fitted}, tmp)

    @classmethod
    def load(cls, path: str | os.PathLike) -> MLPClassifier:
        """Read a model written by :meth:`save`; tensors are loaded on the CPU."""
        payload = torch.load(path, map_location="cpu", weights_only=True)
        params = payload["params"]
        params["hidden_layers"] = tuple(params["hidden_layers"])
        model = cls(**params)
        fitted = payload["fitted"]
        model.classes_ = np.asarray(fitted["classes_"])
        model.n_features_in_ = fitted["n_features_in_"]
        model.device_ = torch.device(fitted["device_"])
        model.best_epochs_ = np.asarray(fitted["best_epochs_"], dtype=np.int64)
        model.snapshots_ = fitted["snapshots_"]
        model.mean_ = fitted["mean_"].numpy()
        model.scale_ = fitted["scale_"].numpy()
        model.train_losses_ = np.asarray(fitted["train_losses_"])
        model.val_losses_ = np.asarray(fitted["val_losses_"])
        return model
