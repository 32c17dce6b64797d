"""Plot style (mplhep, ROOT look) and figure output shared by every plotting module."""

from __future__ import annotations

import os
from typing import Any

from anode_cathode.core.files import atomic_path
from anode_cathode.core.registry import METHODS

__all__ = ["METHOD_COLORS", "METHOD_LABELS", "hep_pyplot", "method_label", "save_figure"]

METHOD_COLORS = {name: m.color for name, m in METHODS.items()}
METHOD_LABELS = {name: m.label for name, m in METHODS.items()}


def method_label(method: str, classifier: str = "") -> str:
    """Legend label, e.g. ``CATHODE (BDT)``."""
    label = METHOD_LABELS.get(method, method)
    return f"{label} ({classifier.upper()})" if classifier else label


def hep_pyplot() -> Any:
    """``matplotlib.pyplot`` with the non-interactive Agg backend and the mplhep ROOT style."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep as hep

    plt.style.use(hep.style.ROOT)
    return plt


def save_figure(fig: Any, path: str | os.PathLike) -> None:
    """Save atomically (the format follows the suffix) and close the figure."""
    import matplotlib.pyplot as plt

    suffix = os.path.splitext(str(path))[1]
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=suffix.lstrip("."), bbox_inches="tight", dpi=120)
    plt.close(fig)
