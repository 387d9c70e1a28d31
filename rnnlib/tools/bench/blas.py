"""The BLAS side of the bench: the matmul peak, which kernels ran, and the other kernel choice.

NumPy's OpenBLAS picks its matrix-multiply kernels for the processor it finds (AVX-512 on
recent Intel chips) unless OPENBLAS_CORETYPE names one; some machines pin it (to Haswell's
AVX2 kernels, for instance) because older OpenBLAS builds misbehaved on their processor.
The choice moves the NumPy paths and the roofline, not the peers (PyTorch brings its own
BLAS, JAX its own). It is fixed when NumPy is loaded, so the bench measures the other
choice in a child process: `other_kernel_env` says which, `run_child` runs it.
"""

import json
import os
import subprocess
import sys
import time

import numpy as np

# The variables that steer OpenBLAS's kernel choice; both are unset for its own choice.
KERNEL_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
PINNED_CORETYPE = "Haswell"  # AVX2: what a pinned machine runs


def square_operands(n: int, dtype: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two random (n, n) matrices and an output buffer, for sgemm_gflops."""
    a, b = np.random.default_rng(0).standard_normal((2, n, n)).astype(dtype)
    return a, b, np.empty((n, n), dtype=dtype)


def sgemm_gflops(n: int, dtype: str, repeats: int = 3, operands=None) -> float:
    """The machine's matrix-multiply peak: best of `repeats` products of two (n, n) matrices.

    Pass `operands` (from square_operands) to measure again without making new matrices.
    """
    a, b, out = operands or square_operands(n, dtype)
    np.matmul(a, b, out=out)  # warm-up: threads woken, pages touched
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def blas_description() -> str:
    """Which BLAS/OpenMP libraries are loaded: kernel, threads, and the package that brought each."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed (pip install -e '.[bench]'); BLAS kernel unknown"
    described = []
    for lib in threadpool_info():
        parts = lib.get("filepath", "").split("/")
        package = parts[parts.index("site-packages") + 1] if "site-packages" in parts else "?"
        described.append(
            f"{lib['internal_api']} {lib.get('version') or ''} ({lib.get('architecture') or '-'}"
            f", {lib['num_threads']} threads, from {package.removesuffix('.libs')})"
        )
    return "; ".join(described)


def other_kernel_env(environ=None) -> tuple[dict, str]:
    """The environment for the kernel choice this process did not make, and its description.

    Pinned here (either variable set): the child runs with both unset, OpenBLAS's own
    choice. Not pinned: the child runs pinned to AVX2, as such machines are.
    """
    environ = dict(os.environ if environ is None else environ)
    pinned = {name: environ.pop(name) for name in KERNEL_VARIABLES if name in environ}
    if pinned:
        settings = ", ".join(f"{name}={value}" for name, value in pinned.items())
        return environ, f"OpenBLAS's own kernel choice (unset: {settings})"
    environ["OPENBLAS_CORETYPE"] = PINNED_CORETYPE
    return environ, f"AVX2 kernels (OPENBLAS_CORETYPE={PINNED_CORETYPE})"


def run_child(argv: list[str], env: dict, timeout: float) -> dict:
    """Run `python -m rnnlib.tools.bench ARGV --child-json` in `env`; return its rows and context.

    Raises RuntimeError with the child's own words when it fails or times out.
    """
    command = [sys.executable, "-m", "rnnlib.tools.bench", *argv, "--child-json"]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"the child bench took longer than {timeout:.0f} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the child bench exited with {done.returncode}: {last}")
    return json.loads(done.stdout)
