"""Device and thread selection shared by every torch and tree model."""

from __future__ import annotations

import os

__all__ = ["resolve_device", "set_threads"]


def resolve_device(device: str = "auto"):
    """Return the ``torch.device`` for ``device`` in {"auto", "cpu", "cuda", "cuda:N"}.

    ``auto`` picks CUDA only when a device is actually usable: under SLURM a job may see
    ``CUDA_VISIBLE_DEVICES`` without a working GPU, and then runs on the CPU.
    """
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"device '{device}' requested but CUDA is not available; use 'auto' or 'cpu'"
        )
    return torch.device(device)


def set_threads(threads: int | None) -> int:
    """Limit torch and OpenMP/BLAS pools to ``threads`` (the rule's ``threads:``).

    With shared cores, more threads than cores is 10-80x slower, so every entry point calls this.
    Returns the number of threads set.
    """
    import torch

    n = max(1, int(threads or os.cpu_count() or 1))
    torch.set_num_threads(n)
    os.environ["OMP_NUM_THREADS"] = str(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:  # threadpoolctl ships with scikit-learn; keep torch-only use working
        pass
    return n
