"""Thread limits: a step uses exactly the cores its rule gives it."""

from __future__ import annotations

import subprocess
import sys

import pytest

_PROBE = """
from anode_cathode.core.device import set_threads
set_threads({n})
import numpy, torch, sklearn.ensemble  # pools that start after the limit
from threadpoolctl import threadpool_info
print(torch.get_num_threads(), sorted({{p["num_threads"] for p in threadpool_info()}}))
"""


@pytest.mark.parametrize("n", [1, 2])
def test_set_threads_limits_torch_openmp_and_blas(n):
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(n=n)], capture_output=True, text=True, check=True
    )
    assert out.stdout.split(maxsplit=1) == [str(n), f"[{n}]\n"]


def test_command_line_limits_threads_before_numpy_starts():
    # parsing the command line imports neither numpy nor torch: main() limits the threads
    # before the step's modules start their pools
    code = (
        "import sys; from anode_cathode.cli import build_parser; "
        "build_parser().parse_args(['train', '--split', 's', '--method', 'cwola', "
        "'--classifier', 'bdt', '--seed', '0', '--out', 'o']); "
        "print(sorted({'numpy', 'torch'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(("avx512_bf16", "amx"), [(False, False), (True, False), (False, True)])
def test_native_bfloat16_follows_the_cpu_capabilities(monkeypatch, avx512_bf16, amx):
    """bfloat16 counts as native exactly on CPUs with AVX512-BF16 or AMX, never elsewhere."""
    import torch

    from anode_cathode.core.device import native_bfloat16

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    assert native_bfloat16(torch.device("cpu")) is (avx512_bf16 or amx)
    assert native_bfloat16(torch.device("meta")) is False


def test_native_bfloat16_agrees_with_linux_cpu_flags():
    """Without patches, the answer for this machine's CPU matches the kernel's flags."""
    import torch

    from anode_cathode.core.device import native_bfloat16

    flags = []
    if sys.platform.startswith("linux"):  # every CI and cluster machine; /proc is Linux-only
        with open("/proc/cpuinfo") as info:
            flags = next(line for line in info if line.startswith("flags")).split()
    expected = "avx512_bf16" in flags or "amx_tile" in flags
    assert native_bfloat16(torch.device("cpu")) is expected
