"""`python -m rnnlib.tools.device_check`: what JAX sees, and how fast the Keras LSTM trains on it.

Not a lesson: the check to run first on a new machine (README, "Beyond one machine").
It prints one JSON object: the devices JAX sees, the JAX and CUDA versions, and for the
accelerator (when there is one) and for the same machine's CPU, in the same run, the
words per second and validation perplexity of notebook 8's Keras LSTM (H = 100, Adam at
0.003, batches of 32 sentences of one bucket length, as its `fit` draws them) after `--steps` steps on the benchmark split. On a machine
without an accelerator it says so and measures the CPU only.

Words per second count the words of the timed steps only: every batch shape is compiled
(and trained on) once first, and that time is reported apart, as `compile_seconds`.
From words/s it predicts one epoch of WikiText-103's training part.
"""

import argparse
import json
import time
from importlib import metadata

import numpy as np

from rnnlib.data.batching import length_batches
from rnnlib.tools.args import positive_int

WIKITEXT103_TRAIN_WORDS = 103_227_021  # tokens of wiki.train.tokens (Merity et al., 2016)


def versions() -> dict:
    """JAX, jaxlib, Keras and CUDA versions (None where there is no CUDA build)."""
    import jax
    import keras

    def installed(package):
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    cuda = None
    for device in jax.devices():
        if device.platform == "gpu":
            cuda = device.client.platform_version  # the CUDA runtime the plugin reports
            break
    return {
        "jax": jax.__version__,
        "jaxlib": installed("jaxlib"),
        "keras": keras.__version__,
        "jax_cuda12_plugin": installed("jax-cuda12-plugin"),
        "cuda": cuda,
    }


def batches_of(part, batch_size: int, count: int, seed: int = 0) -> list[tuple[list, list]]:
    """`count` batches of (X, y) sentences of one bucket length each, as Keras' fit draws them.

    Sentences of one bucket pad to one length, so little of a step is padding (one epoch of
    seeded length_batches, cycled when `count` asks for more).
    """
    rng = np.random.default_rng(seed)
    order = length_batches([len(x) for x in part.X], batch_size, rng)
    chosen = [order[i % len(order)] for i in range(count)]
    return [([part.X[i] for i in rows], [part.y[i] for i in rows]) for rows in chosen]


def measure(device, split, steps: int, batch_size: int, hidden: int, seed: int) -> dict:
    """Train notebook 8's Keras LSTM on `device` for `steps` timed steps; words/s and perplexity."""
    import jax

    from rnnlib.keras_rnn.word import KerasLSTM

    batches = batches_of(split.train, batch_size, steps, seed)
    with jax.default_device(device):  # weights, batches and every compiled step live there
        model = KerasLSTM(len(split.vocab), hidden_dim=hidden, seed=seed)
        model.compile("adam", 0.003)
        start = time.perf_counter()
        seen = set()
        for xs, ys in batches:  # one step per batch shape: the compiling, timed apart
            shape = model.padded(list(zip(xs, ys, strict=True)))[0].shape
            if shape not in seen:
                seen.add(shape)
                model.train_on_batch(xs, ys)
        compile_seconds = time.perf_counter() - start
        start = time.perf_counter()
        for xs, ys in batches:
            model.train_on_batch(xs, ys)
        seconds = time.perf_counter() - start
        loss = model.calculate_loss(split.validation.X, split.validation.y)
    words = sum(len(y) for _, ys in batches for y in ys)
    return {
        "device": str(device),
        "steps": steps,
        "words": words,
        "seconds": round(seconds, 6),
        "words_per_second": round(words / seconds, 1),
        "compile_seconds": round(compile_seconds, 3),
        "validation": split.validation.name,
        "validation_perplexity": round(float(np.exp(loss)), 2),
        "wikitext103_epoch_hours": round(WIKITEXT103_TRAIN_WORDS / (words / seconds) / 3600, 2),
    }


def check(steps: int, batch_size: int, hidden: int, validation=None, seed: int = 0) -> dict:
    """The device report as a dict: what JAX sees, versions, and one measurement per device kind."""
    import jax

    from rnnlib.data.benchmark import benchmark_split

    devices = jax.devices()
    accelerator = next((d for d in devices if d.platform != "cpu"), None)
    split = benchmark_split()
    if validation is not None:  # a prefix of the (randomly ordered) validation sentences
        split = split.prefix(validation=min(validation, len(split.validation)))
    report = {
        "devices": [f"{d.platform}:{d.id} {d.device_kind}" for d in devices],
        "versions": versions(),
        "accelerator": None if accelerator is None else str(accelerator.device_kind),
        "runs": {},
    }
    if accelerator is None:
        report["note"] = "JAX sees no accelerator (no GPU or TPU): the CPU is measured only"
    else:
        report["runs"]["accelerator"] = measure(accelerator, split, steps, batch_size, hidden, seed)
    cpu = jax.devices("cpu")[0]
    report["runs"]["cpu"] = measure(cpu, split, steps, batch_size, hidden, seed)
    if accelerator is not None:
        runs = report["runs"]
        report["speedup"] = round(
            runs["accelerator"]["words_per_second"] / runs["cpu"]["words_per_second"], 2
        )
    return report


def main(argv=None, out=print) -> int:
    """Print the device report as JSON on stdout (or give it to `out`)."""
    parser = argparse.ArgumentParser(
        prog="python -m rnnlib.tools.device_check", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--steps", type=positive_int, default=200, help="timed steps (200)")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="sentences (32)")
    parser.add_argument("--hidden", type=positive_int, default=100, help="LSTM size H (100)")
    parser.add_argument(
        "--validation", type=positive_int, help="score on the first N validation sentences (all)"
    )
    args = parser.parse_args(argv)
    report = check(args.steps, args.batch_size, args.hidden, args.validation)
    out(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
