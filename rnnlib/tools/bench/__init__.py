"""`python -m rnnlib bench`: training throughput of every implementation, measured in one run.

- `harness`: the configuration (`Setup`), the registry, the correctness guard, the timing;
- `implementations`: what is timed (ours, then the PyTorch and Keras peers);
- `implementations_gated`, `cells`: the GRU and LSTM rows and their NumPy reference;
- `blas`: the matmul peak (the roofline), which BLAS kernels ran, the other kernel choice;
- `report`: the table; `command`: the command line.
"""

from rnnlib.tools.bench import (
    implementations,  # noqa: F401  (fills REGISTRY, in table order)
    implementations_gated,  # noqa: F401  (GRU and LSTM rows, last)
)
from rnnlib.tools.bench.blas import blas_description, sgemm_gflops
from rnnlib.tools.bench.command import QUICK, add_arguments, main, run_command
from rnnlib.tools.bench.harness import (
    REGISTRY,
    Entry,
    Runner,
    Setup,
    Unavailable,
    WrongModel,
    guard,
    interface_runner,
    reference_loss,
    register,
    run,
)
from rnnlib.tools.bench.report import format_table, merge_other_kernel

__all__ = [
    "QUICK",
    "REGISTRY",
    "Entry",
    "Runner",
    "Setup",
    "Unavailable",
    "WrongModel",
    "add_arguments",
    "blas_description",
    "format_table",
    "guard",
    "interface_runner",
    "main",
    "merge_other_kernel",
    "reference_loss",
    "register",
    "run",
    "run_command",
    "sgemm_gflops",
]
