"""Device and thread selection shared by every torch and tree model."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = [
    "flush_denormals",
    "inference_device",
    "native_bfloat16",
    "openmp_threads",
    "resolve_device",
    "set_threads",
    "torch_threads",
]


def resolve_device(device: str = "auto") -> torch.device:
    """Return the ``torch.device`` for ``device`` in {"auto", "cpu", "cuda", "cuda:N"}.

    ``auto`` picks CUDA only when a device is actually usable: under SLURM a job may see
    ``CUDA_VISIBLE_DEVICES`` without a working GPU, and then runs on the CPU.
    """
    import torch

    _configure_torch()
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"device '{device}' requested but CUDA is not available; use 'auto' or 'cpu'"
        )
    return torch.device(device)


def inference_device(fitted_on: torch.device) -> torch.device:
    """Where a model fitted on ``fitted_on`` predicts: the CPU when that GPU is not here
    (fitted on a GPU node, loaded on a CPU-only machine)."""
    import torch

    _configure_torch()
    if fitted_on.type == "cuda" and not torch.cuda.is_available():
        return torch.device("cpu")
    return fitted_on


def native_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices in hardware (faster than float32).

    GPUs: what ``torch.cuda.is_bf16_supported`` says (Ampere and later). CPUs: AVX512-BF16 or
    AMX tiles; elsewhere torch converts bfloat16 to float32 around every product, which is
    slower than float32 alone.
    """
    import torch

    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch >= 2.3
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


#: Read by OpenMP, OpenBLAS and MKL when they start (at the import of numpy, torch, sklearn).
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

#: Threads chosen by :func:`set_threads`, applied to torch when a model first needs it.
_threads: int | None = None
_torch_configured = False


def set_threads(threads: int | None) -> int:
    """Limit torch, OpenMP and BLAS to ``threads`` (the rule's ``threads:``) in this process.

    On shared cores more threads than cores is 10-80x slower, so every step calls this. Pools
    that start later read the environment variables set here, so the command line calls it
    before numpy or torch are imported; pools already running (torch's, and any OpenMP/BLAS
    library already loaded) are limited directly. torch itself is not imported here (about 1 s
    that steps without a torch model, such as the fits, would pay for nothing): a torch
    imported later gets the threads from :func:`resolve_device`, which every model calls
    before its first tensor. Returns the number of threads set.
    """
    global _threads, _torch_configured
    n = max(1, int(threads or os.cpu_count() or 1))
    _threads = n
    for name in _THREAD_VARIABLES:
        os.environ[name] = str(n)
    if "torch" in sys.modules:
        _torch_configured = False
        _configure_torch()
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:  # threadpoolctl ships with scikit-learn; keep torch-only use working
        pass
    return n


def _configure_torch() -> None:
    """Once per process: torch's threads from :func:`set_threads`, subnormals flushed."""
    global _torch_configured
    if _torch_configured:
        return
    import torch

    if _threads is not None:
        torch.set_num_threads(_threads)
    flush_denormals()
    _torch_configured = True


def flush_denormals() -> bool:
    """Treat subnormal floats as zero in torch's CPU kernels (no effect on a GPU).

    After a few epochs some weights, gradients or Adam moments of a flow become subnormal
    (|x| < 1.2e-38 in float32), and every arithmetic operation on them takes a slow microcode
    path: a 6 × 64 MAF epoch went from 4.3 s to 12 s on this project's CPUs, with losses equal to
    5 digits when they are flushed. Returns whether the CPU supports it (x86 with SSE3).
    """
    import torch

    return bool(torch.set_flush_denormal(True))


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``torch.set_num_threads(n)`` when ``n`` is given, restoring the old value."""
    import torch

    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


@contextlib.contextmanager
def openmp_threads(n: int | None) -> Iterator[None]:
    """Limit the OpenMP pools (HistGradientBoosting) to ``n`` threads when ``n`` is given."""
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=int(n), user_api="openmp"):
        yield
