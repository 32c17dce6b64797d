"""Density estimation for CATHODE and ANODE: conditional flows, their preprocessing and training.

* :class:`ConditionalFlow` – masked autoregressive flow p(x | m) (affine or spline) with an
  epoch-ensemble mixture, exact Jacobians to the original feature space, and sampling.
* :class:`LogitPreprocessor` – min-max scaling, logit and standardisation with the Jacobian.
* :class:`MassKDE` – KDE of the signal-region mjj for the CATHODE sample conditions.
* :func:`train_density` – the device-resident maximum-likelihood training loop.

References: CATHODE, arXiv:2109.00546; ANODE, arXiv:2001.04990.
"""

from __future__ import annotations

from anode_cathode.density.flow import ConditionalFlow, flow_from_settings
from anode_cathode.density.kde import MassKDE
from anode_cathode.density.made import TRANSFORMS, MaskedMLP, build_flow
from anode_cathode.density.preprocessing import LogitPreprocessor
from anode_cathode.density.train import (
    TrainResult,
    refresh_batchnorm,
    scale_learning_rate,
    train_density,
)

__all__ = [
    "TRANSFORMS",
    "ConditionalFlow",
    "LogitPreprocessor",
    "MaskedMLP",
    "MassKDE",
    "TrainResult",
    "build_flow",
    "flow_from_settings",
    "refresh_batchnorm",
    "scale_learning_rate",
    "train_density",
]
