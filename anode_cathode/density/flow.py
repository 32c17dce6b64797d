"""Conditional masked autoregressive flow p(x | m) for CATHODE and ANODE.

Reference architecture (CATHODE, arXiv:2109.00546; ANODE, arXiv:2001.04990; docs/methods.md):
15 blocks of [MADE affine transform with 128 hidden units, batch norm, reverse permutation],
conditioned on the dijet mass, trained with Adam (lr 1e-4, weight decay 1e-6, batch 256, 100
epochs). Densities and samples are mixtures over the 10 epochs with the lowest validation loss.

The transforms are nflows transforms (``MaskedAffineAutoregressiveTransform`` and the rational-
quadratic spline version, arXiv:1906.04032) around the lean MADE of
:mod:`anode_cathode.density.made`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from nflows.flows import Flow
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from anode_cathode.core.device import (
    inference_device,
    native_bfloat16,
    resolve_device,
    torch_threads,
)
from anode_cathode.core.files import atomic_path
from anode_cathode.core.validation import check_features
from anode_cathode.density.made import PRECISIONS, TRANSFORMS, build_flow
from anode_cathode.density.preprocessing import LogitPreprocessor
from anode_cathode.density.train import default_chunk_size, scale_learning_rate, train_density

__all__ = ["ConditionalFlow", "flow_from_settings"]

logger = logging.getLogger(__name__)

_FITTED = ("preprocessor_", "snapshots_", "best_epochs_", "context_mean_", "context_scale_")


def _conditions(m: Any, n: int | None = None, *, allow_nan: bool = True) -> np.ndarray:
    """Conditions as a float64 array of shape ``(N, c)`` (a 1-d ``m`` gives ``c = 1``)."""
    m = np.asarray(m, dtype=np.float64)
    m = m[:, None] if m.ndim == 1 else m
    if m.ndim != 2:
        raise ValueError(f"m must have shape (N,) or (N, c), got {m.shape}")
    if n is not None and m.shape[0] != n:
        raise ValueError(f"X has {n} rows but m has {m.shape[0]}")
    if not allow_nan and not np.all(np.isfinite(m)):
        raise ValueError("m contains NaN or infinite values")
    return m


class ConditionalFlow(BaseEstimator):
    """Conditional density estimator p(x | m) with an epoch ensemble (CATHODE / ANODE flow).

    Parameters
    ----------
    transform
        ``"affine"`` (masked autoregressive flow, the CATHODE reference) or ``"spline"``
        (rational-quadratic spline MAF with ``n_bins`` bins on ``[-tail_bound, tail_bound]``).
    n_blocks, hidden_features, n_made_layers
        Number of MADE blocks, their width and their hidden-to-hidden layers.
    batch_norm, permutation
        Batch-norm transform after every block; ``"reverse"`` or ``"random"`` permutations.
    n_bins, tail_bound
        Spline settings (ignored for ``"affine"``).
    learning_rate, weight_decay, batch_size, epochs
        Adam settings (see :func:`~anode_cathode.density.train.scale_learning_rate` for large
        batches).
    n_best_epochs
        Epochs with the lowest validation loss that form the mixture used by :meth:`log_prob`
        and :meth:`sample`.
    validation_fraction
        Random fraction of the data held out for validation when ``fit`` gets no ``X_val``.
    early_stopping_patience
        Stop after this many epochs without a lower validation loss (``None``: never).
    refresh_batchnorm
        Recompute batch-norm statistics on the training set after every epoch.
    refresh_batchnorm_events
        Recompute them on this many training events (a fixed random subset; ``None``: all).
    margin, lower_bounds
        Range margin and physical lower bounds per feature of the
        :class:`~anode_cathode.density.preprocessing.LogitPreprocessor`.
    compile
        ``torch.compile`` the training step (opt-in; see
        :func:`~anode_cathode.density.train.train_density`).
    train_precision
        ``"float32"``, ``"bfloat16"`` or ``"auto"``: arithmetic of the MADE networks' matrix
        products in the training steps (mixed precision; weights, log-determinants, losses,
        validation, :meth:`log_prob` and :meth:`sample` stay float32; see
        :func:`~anode_cathode.density.made.conditioner_precision`). ``"auto"`` takes bfloat16
        where the device multiplies it in hardware
        (:func:`~anode_cathode.core.device.native_bfloat16`), float32 elsewhere.
    device, n_threads, random_state, verbose
        Torch device (``"auto"``, ``"cpu"``, ``"cuda"``), torch threads during fit and
        inference (restored afterwards), seed of split, weights and batch order (fits are
        deterministic on the CPU for a fixed seed and thread count), progress bar.

    Attributes
    ----------
    preprocessor_
        Fitted :class:`~anode_cathode.density.preprocessing.LogitPreprocessor`.
    context_mean_, context_scale_
        Standardisation of the condition (training data).
    train_losses_, val_losses_
        Mean negative log-likelihood per epoch in the *preprocessed* space; entry ``i`` is the
        model after epoch ``i + 1``.
    best_epochs_, snapshots_
        0-based indices of the mixture epochs (best first) and their CPU state dicts.
    epoch_times_, step_times_
        Wall seconds per epoch, in total and in optimisation steps only.
    n_features_in_, device_
        Number of features and the training device.
    train_precision_
        Precision the training steps used (``"auto"`` resolved).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> m = rng.uniform(3.0, 4.0, 2000)
    >>> X = np.c_[rng.normal(m, 0.3), rng.normal(-m, 0.2)]
    >>> flow = ConditionalFlow(n_blocks=2, hidden_features=16, epochs=2, n_best_epochs=2,
    ...                        device="cpu", random_state=0).fit(X, m)
    >>> flow.log_prob(X[:5], m[:5]).shape, flow.sample(m[:7], random_state=1).shape
    ((5,), (7, 2))
    """

    def __init__(
        self,
        transform: str = "affine",
        n_blocks: int = 15,
        hidden_features: int = 128,
        n_made_layers: int = 1,
        batch_norm: bool = True,
        permutation: str = "reverse",
        n_bins: int = 8,
        tail_bound: float = 3.0,
        learning_rate: float = 1e-4,
        weight_decay: float = 1e-6,
        batch_size: int = 256,
        epochs: int = 100,
        n_best_epochs: int = 10,
        validation_fraction: float = 0.2,
        early_stopping_patience: int | None = None,
        refresh_batchnorm: bool = True,
        refresh_batchnorm_events: int | None = None,
        margin: float = 0.01,
        lower_bounds: Sequence[float | None] | None = None,
        compile: bool = False,
        train_precision: str = "float32",
        device: str = "auto",
        n_threads: int | None = None,
        random_state: int | np.random.RandomState | None = None,
        verbose: bool = False,
    ) -> None:
        self.transform = transform
        self.n_blocks = n_blocks
        self.hidden_features = hidden_features
        self.n_made_layers = n_made_layers
        self.batch_norm = batch_norm
        self.permutation = permutation
        self.n_bins = n_bins
        self.tail_bound = tail_bound
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.n_best_epochs = n_best_epochs
        self.validation_fraction = validation_fraction
        self.early_stopping_patience = early_stopping_patience
        self.refresh_batchnorm = refresh_batchnorm
        self.refresh_batchnorm_events = refresh_batchnorm_events
        self.margin = margin
        self.lower_bounds = lower_bounds
        self.compile = compile
        self.train_precision = train_precision
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ building
    def _check_params(self, need_split: bool) -> None:
        for name in ("n_blocks", "hidden_features", "batch_size", "epochs", "n_best_epochs"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if int(self.n_made_layers) < 0:
            raise ValueError(f"n_made_layers must be >= 0, got {self.n_made_layers}")
        if self.transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {TRANSFORMS}, got {self.transform!r}")
        if self.train_precision not in (*PRECISIONS, "auto"):
            raise ValueError(
                f"train_precision must be one of {(*PRECISIONS, 'auto')}, "
                f"got {self.train_precision!r}"
            )
        if not self.learning_rate > 0 or self.weight_decay < 0:
            raise ValueError("learning_rate must be > 0 and weight_decay >= 0")
        if self.refresh_batchnorm_events is not None and int(self.refresh_batchnorm_events) < 1:
            raise ValueError(
                "refresh_batchnorm_events must be None or at least 1, "
                f"got {self.refresh_batchnorm_events}"
            )
        if need_split and not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(
                "validation_fraction must be in (0, 1) without X_val, "
                f"got {self.validation_fraction}"
            )

    def build(self) -> Flow:
        """An untrained nflows ``Flow`` with this estimator's architecture (needs a fit).

        Initial weights come from torch's global random state. Load one of
        :attr:`snapshots_` into it for a trained model (call ``eval()`` before use).
        """
        check_is_fitted(self, "n_features_in_")
        return build_flow(
            self.n_features_in_,
            len(self.context_mean_),
            self.transform,
            int(self.n_blocks),
            int(self.hidden_features),
            int(self.n_made_layers),
            bool(self.batch_norm),
            self.permutation,
            int(self.n_bins),
            float(self.tail_bound),
        )

    def _network(self, device: torch.device, state: dict[str, torch.Tensor]) -> Flow:
        """The flow with weights ``state`` in eval mode (global random state untouched)."""
        with torch.random.fork_rng(devices=[]):
            flow = self.build()
        flow.load_state_dict(state)
        return flow.to(device).eval()

    def _context(self, m: np.ndarray) -> np.ndarray:
        return ((m - self.context_mean_) / self.context_scale_).astype(np.float32)

    # ------------------------------------------------------------------- fitting
    def fit(self, X: Any, m: Any, X_val: Any = None, m_val: Any = None) -> ConditionalFlow:
        """Train on events ``X`` (N, d) with conditions ``m`` (N,) in the original space.

        Preprocessing and condition standardisation are fitted on the training part only.
        Validation events outside its range are excluded from the validation loss (their number
        is logged at INFO). NaN inputs are let through and make the loss NaN: the fit then
        raises :class:`FloatingPointError` naming the epoch.
        """
        self._check_params(need_split=X_val is None)
        if (X_val is None) != (m_val is None):
            raise ValueError("X_val and m_val must be given together")
        X = check_features(X, allow_nan=True)
        m = _conditions(m, X.shape[0])
        for name in _FITTED:  # a failed refit must not leave the old weights with new scaling
            self.__dict__.pop(name, None)
        rng = check_random_state(self.random_state)
        split_seed, init_seed, batch_seed = (int(s) for s in rng.randint(0, 2**31 - 1, size=3))
        if X_val is None:
            order = np.random.RandomState(split_seed).permutation(X.shape[0])
            n_val = max(1, round(float(self.validation_fraction) * X.shape[0]))
            X_tr, m_tr = X[order[n_val:]], m[order[n_val:]]
            X_va, m_va = X[order[:n_val]], m[order[:n_val]]
        else:
            X_tr, m_tr = X, m
            X_va = check_features(
                X_val, allow_nan=True, n_features=X.shape[1], owner="the training data"
            )
            m_va = _conditions(m_val, X_va.shape[0])
            if m_va.shape[1] != m.shape[1]:
                raise ValueError(f"m_val has {m_va.shape[1]} columns, m has {m.shape[1]}")
        n_bad = int(np.sum(~np.isfinite(X_tr)) + np.sum(~np.isfinite(m_tr)))
        n_bad += int(np.sum(~np.isfinite(X_va)) + np.sum(~np.isfinite(m_va)))
        hint = f"; the inputs contain {n_bad} non-finite values" if n_bad else ""

        self.n_features_in_ = X.shape[1]
        self.preprocessor_ = LogitPreprocessor(
            margin=self.margin, lower_bounds=self.lower_bounds
        ).fit(X_tr)
        self.context_mean_ = np.nanmean(m_tr, axis=0)
        std = np.nanstd(m_tr, axis=0)
        self.context_scale_ = np.where(std > 0, std, 1.0)
        Z_tr, m_tr = self._select(X_tr, m_tr, "training")
        Z_va, m_va = self._select(X_va, m_va, "validation")
        self.device_ = resolve_device(self.device)
        self.train_precision_ = self.train_precision
        if self.train_precision == "auto":
            native = native_bfloat16(self.device_)
            self.train_precision_ = "bfloat16" if native else "float32"
            logger.info("training steps in %s on %s", self.train_precision_, self.device_)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init_seed)
            flow = self.build()
        with torch_threads(self.n_threads):
            result = train_density(
                flow,
                Z_tr,
                self._context(m_tr),
                Z_va,
                self._context(m_va),
                epochs=int(self.epochs),
                batch_size=int(self.batch_size),
                learning_rate=float(self.learning_rate),
                weight_decay=float(self.weight_decay),
                n_best=int(self.n_best_epochs),
                early_stopping_patience=self.early_stopping_patience,
                refresh_batchnorm_stats=bool(self.refresh_batchnorm),
                refresh_events=self.refresh_batchnorm_events,
                device=self.device_,
                seed=batch_seed,
                compile=bool(self.compile),
                precision=self.train_precision_,
                verbose=bool(self.verbose),
                description=f"{type(self).__name__}({self.transform})",
                hint=hint,
            )
        self.train_losses_ = result.train_losses
        self.val_losses_ = result.val_losses
        self.best_epochs_ = result.best_epochs
        self.snapshots_ = result.snapshots
        self.epoch_times_ = result.epoch_seconds
        self.step_times_ = result.step_seconds
        return self

    def _select(self, X: np.ndarray, m: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
        """Drop finite events outside the preprocessing range (logged); transform the rest."""
        outside = np.isfinite(X).all(axis=1) & ~self.preprocessor_.in_support(X)
        if outside.any():
            logger.info(
                "%d of %d %s events lie outside the range of the training data and are excluded",
                int(outside.sum()),
                len(X),
                what,
            )
            X, m = X[~outside], m[~outside]
        if len(X) == 0:
            raise ValueError(f"no {what} event lies inside the range of the training data")
        return self.preprocessor_.transform(X).astype(np.float32), m

    # ----------------------------------------------------------------- inference
    def log_prob(self, X: Any, m: Any) -> np.ndarray:
        """log p(x | m) in the original feature space (preprocessing Jacobian included).

        The density is the equal-weight mixture of the ``n_best_epochs`` best epoch models
        (log of the mean of their densities). Events outside the support of the preprocessing
        (the training range widened by ``margin``) get ``-inf``; their number is logged at INFO.

        Returns
        -------
        numpy.ndarray
            float64, shape ``(N,)``.
        """
        check_is_fitted(self, _FITTED)
        X = check_features(X, allow_nan=False, n_features=self.n_features_in_, owner="the flow")
        m = _conditions(m, X.shape[0], allow_nan=False)
        inside = self.preprocessor_.in_support(X)
        out = np.full(X.shape[0], -np.inf)
        if not inside.all():
            logger.info(
                "%d of %d events lie outside the support of the flow: log_prob = -inf",
                int((~inside).sum()),
                X.shape[0],
            )
        if not inside.any():
            return out
        Z = self.preprocessor_.transform(X[inside])
        log_det = self.preprocessor_.log_abs_det_jacobian(X[inside])
        dev = inference_device(self.device_)
        chunk = default_chunk_size(dev)
        with torch_threads(self.n_threads), torch.inference_mode():
            z = torch.as_tensor(Z, dtype=torch.float32, device=dev)
            c = torch.as_tensor(self._context(m[inside]), device=dev)
            flow = self._network(dev, self.snapshots_[0])
            per_model = torch.empty((len(self.snapshots_), z.shape[0]), dtype=torch.float64)
            for k, state in enumerate(self.snapshots_):
                flow.load_state_dict(state)
                for s in range(0, z.shape[0], chunk):
                    lp = flow.log_prob(z[s : s + chunk], context=c[s : s + chunk])
                    per_model[k, s : s + chunk] = lp.double().cpu()
            mix = torch.logsumexp(per_model, dim=0) - np.log(len(self.snapshots_))
        out[inside] = mix.numpy() + log_det
        return out

    def sample(self, m: Any, random_state: int | np.random.RandomState | None = None) -> np.ndarray:
        """One event per condition, drawn from the best-epoch mixture, in the original space.

        Every event picks one of the ``n_best_epochs`` models uniformly at random and is drawn
        from it in eval mode (noise → inverse flow → inverse preprocessing), in chunks, so large
        ``N`` is fine. Samples lie in the support of the preprocessing.

        Parameters
        ----------
        m
            Conditions, shape ``(N,)`` (or ``(N, c)``).
        random_state
            Seed of the model choice and the noise; the same seed gives the same samples.

        Returns
        -------
        numpy.ndarray
            float64, shape ``(N, n_features_in_)``.
        """
        check_is_fitted(self, _FITTED)
        m = _conditions(m, allow_nan=False)
        if m.shape[1] != len(self.context_mean_):
            raise ValueError(
                f"m has {m.shape[1]} columns, the flow was fitted with {len(self.context_mean_)}"
            )
        rng = check_random_state(random_state)
        choice = rng.randint(len(self.snapshots_), size=m.shape[0])
        dev = inference_device(self.device_)
        gen = torch.Generator(device=dev).manual_seed(int(rng.randint(0, 2**31 - 1)))
        chunk = default_chunk_size(dev)
        Z = np.empty((m.shape[0], self.n_features_in_), dtype=np.float64)
        with torch_threads(self.n_threads), torch.inference_mode():
            flow = self._network(dev, self.snapshots_[0])  # eval: batch-norm inverse needs it
            c_all = torch.as_tensor(self._context(m), device=dev)
            for k, state in enumerate(self.snapshots_):
                idx = np.flatnonzero(choice == k)
                if idx.size == 0:
                    continue
                flow.load_state_dict(state)
                for s in range(0, idx.size, chunk):
                    rows = torch.as_tensor(idx[s : s + chunk], device=dev)
                    noise = torch.randn(
                        (rows.shape[0], self.n_features_in_), generator=gen, device=dev
                    )
                    # the transform's inverse maps noise to data; Flow.sample(1, context) would
                    # return shape (N, 1, d) and draw from the global random state
                    z, _ = flow._transform.inverse(noise, context=c_all[rows])
                    Z[idx[s : s + chunk]] = z.double().cpu().numpy()
        n_nan = int(np.isnan(Z).any(axis=1).sum())
        if n_nan:
            raise FloatingPointError(f"{n_nan} of {len(Z)} samples are NaN")
        return self.preprocessor_.inverse_transform(Z)

    # --------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write parameters, preprocessing and best-epoch weights with :func:`torch.save`."""
        check_is_fitted(self, _FITTED)
        params = self.get_params()
        if isinstance(params["random_state"], np.random.RandomState):
            params["random_state"] = None
        fitted = {
            "n_features_in_": int(self.n_features_in_),
            "device_": str(self.device_),
            "train_precision_": self.train_precision_,
            "preprocessor_": self.preprocessor_.state(),
            "snapshots_": self.snapshots_,
            **{
                k: getattr(self, k).tolist()
                for k in (
                    "context_mean_",
                    "context_scale_",
                    "best_epochs_",
                    "train_losses_",
                    "val_losses_",
                    "epoch_times_",
                    "step_times_",
                )
            },
        }
        with atomic_path(path) as tmp:  # a killed job never leaves a half-written model
            torch.save({"params": params, "fitted": fitted}, tmp)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ConditionalFlow:
        """Read a model written by :meth:`save` (``weights_only=True``; tensors on the CPU)."""
        payload = torch.load(path, map_location="cpu", weights_only=True)
        model = cls(**payload["params"])
        fitted = payload["fitted"]
        model.n_features_in_ = int(fitted["n_features_in_"])
        model.device_ = torch.device(fitted["device_"])
        model.train_precision_ = fitted.get("train_precision_", "float32")  # older files
        model.preprocessor_ = LogitPreprocessor.from_state(fitted["preprocessor_"])
        model.snapshots_ = fitted["snapshots_"]
        model.best_epochs_ = np.asarray(fitted["best_epochs_"], dtype=np.int64)
        for key in ("context_mean_", "context_scale_", "train_losses_", "val_losses_"):
            setattr(model, key, np.asarray(fitted[key], dtype=np.float64))
        model.epoch_times_ = np.asarray(fitted["epoch_times_"], dtype=np.float64)
        model.step_times_ = np.asarray(fitted["step_times_"], dtype=np.float64)
        return model


#: Keys of a flow's settings (the ``flow`` configuration section) that are not estimator
#: parameters: the sideband flow's seed, how to scale the learning rate with the batch size,
#: and whether the features' physical lower bounds bound the preprocessing.
_NOT_ESTIMATOR_PARAMS = ("seed", "lr_scaling", "physical_bounds")


def flow_from_settings(
    settings: dict[str, Any],
    *,
    features: Sequence[str],
    random_state: int,
    n_threads: int,
    device: str,
) -> ConditionalFlow:
    """An unfitted :class:`ConditionalFlow` from a ``flow`` configuration section.

    The learning rate is scaled from batch 256 to ``batch_size`` by the section's
    ``lr_scaling`` rule (:func:`~anode_cathode.density.train.scale_learning_rate`). With
    ``physical_bounds`` (default on) the preprocessing of each of ``features`` (the flow's
    inputs, in order) starts at its physical lower bound
    (:data:`~anode_cathode.data.features.PHYSICAL_LOWER_BOUNDS`). Every other key except
    ``seed`` is an estimator parameter.
    """
    from anode_cathode.data.features import PHYSICAL_LOWER_BOUNDS

    params = {k: v for k, v in settings.items() if k not in _NOT_ESTIMATOR_PARAMS}
    params["learning_rate"] = scale_learning_rate(
        settings["learning_rate"], settings["batch_size"], rule=settings.get("lr_scaling", "none")
    )
    if settings.get("physical_bounds", True):
        params["lower_bounds"] = [PHYSICAL_LOWER_BOUNDS.get(name) for name in features]
    return ConditionalFlow(**params, device=device, n_threads=n_threads, random_state=random_state)
