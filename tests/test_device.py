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


def test_native_bfloat16_matches_the_cpu_flags():
    """bfloat16 counts as native exactly on CPUs with AVX512-BF16 or AMX (Linux's flags)."""
    import torch

    from anode_cathode.core.device import native_bfloat16

    try:
        with open("/proc/cpuinfo") as info:
            flags = next(line for line in info if line.startswith("flags")).split()
    except (OSError, StopIteration):
        pytest.skip("no /proc/cpuinfo flags on this system")
    expected = "avx512_bf16" in flags or "amx_tile" in flags
    assert native_bfloat16(torch.device("cpu")) is expected
    assert native_bfloat16(torch.device("meta")) is False
