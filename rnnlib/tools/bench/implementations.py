"""The implementations the bench times, registered in table order (see rnnlib.tools.bench.harness).

Ours first (the readable and fast NumPy paths, PyTensor per sentence and batched, the Keras
word model), then the peers a learner would reach for instead: PyTorch `nn.RNN` and Keras
`SimpleRNN`. Optional libraries are imported inside their builder, so a missing one only
skips its row.
"""

import os

import numpy as np

from rnnlib.numpy_rnn.fast import RNNNumpyFast
from rnnlib.numpy_rnn.readable import RNNNumpy
from rnnlib.tools.bench.harness import Runner, Unavailable, interface_runner, register


@register("numpy-readable", numpy=True)
def _readable(setup):
    model = RNNNumpy(setup.word_dim, setup.hidden_dim, setup.bptt_truncate, dtype=setup.dtype)
    return interface_runner(model, setup, batched=False)


@register("numpy-fast", numpy=True)
def _fast(setup):
    model = RNNNumpyFast(setup.word_dim, setup.hidden_dim, setup.bptt_truncate, dtype=setup.dtype)
    return interface_runner(model, setup, batched=True)


def _pytensor_model(setup):
    try:
        from rnnlib.pytensor_rnn.rnn import RNNPyTensor
    except ImportError as e:
        raise Unavailable(f"rnnlib.pytensor_rnn.rnn not importable ({e})") from None
    return RNNPyTensor(
        word_dim=setup.word_dim,
        hidden_dim=setup.hidden_dim,
        bptt_truncate=setup.bptt_truncate,
        dtype=setup.dtype,
    )


@register("pytensor")  # JAX underneath: its arrays are not numpy's, untraced
def _pytensor(setup):
    return interface_runner(_pytensor_model(setup), setup, batched=False)


@register("pytensor-batched")
def _pytensor_batched(setup):
    model = _pytensor_model(setup)
    if not hasattr(model, "sgd_step_batch"):
        raise Unavailable("RNNPyTensor has no sgd_step_batch")
    return interface_runner(model, setup, batched=True)


@register("keras KerasRNN")
def _keras_word(setup):
    try:
        from rnnlib.keras_rnn.word import KerasRNN
    except ImportError as e:
        raise Unavailable(f"rnnlib.keras_rnn.word not importable ({e})") from None
    try:
        model = KerasRNN(setup.word_dim, setup.hidden_dim, setup.bptt_truncate, dtype=setup.dtype)
    except ValueError as e:  # e.g. a truncation, which Keras' autodiff does not do
        raise Unavailable(str(e)) from None
    return interface_runner(model, setup, batched=True)


@register("torch nn.RNN", peer=True)
def _torch(setup):
    try:
        import torch
    except ImportError:
        raise Unavailable("torch not installed (pip install -e '.[bench]')") from None
    C, H, dtype = setup.word_dim, setup.hidden_dim, getattr(torch, setup.dtype)

    class LanguageModel(torch.nn.Module):  # what a learner would write: no biases, tanh
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(C, H, dtype=dtype)
            self.rnn = torch.nn.RNN(H, H, nonlinearity="tanh", bias=False, dtype=dtype)
            self.out = torch.nn.Linear(H, C, bias=False, dtype=dtype)

        def forward(self, x):  # x (T, B) -> scores (T * B, C)
            return self.out(self.rnn(self.embed(x))[0]).reshape(-1, C)

    model = LanguageModel()
    p = {k: torch.tensor(v, dtype=dtype) for k, v in setup.params.items()}
    with torch.no_grad():
        model.embed.weight.copy_(p["U"].T)  # row x of the table = column x of U
        model.rnn.weight_ih_l0.copy_(torch.eye(H, dtype=dtype))  # the embedding is U's push
        model.rnn.weight_hh_l0.copy_(p["W"])
        model.out.weight.copy_(p["V"])
    optimizer = torch.optim.SGD(model.parameters(), lr=setup.learning_rate)
    data = [  # time-major (T, B) ids, (T * B,) targets
        (torch.tensor(np.array(xs).T), torch.tensor(np.array(ys).T).reshape(-1))
        for xs, ys in setup.batches
    ]

    def loss(i):
        return torch.nn.functional.cross_entropy(model(data[i][0]), data[i][1], reduction="sum")

    def step(i):
        optimizer.zero_grad(set_to_none=True)
        loss(i).backward()
        optimizer.step()

    def loss_value(i):
        with torch.no_grad():
            return float(loss(i))

    return Runner(step, loss_value)


@register("keras SimpleRNN", peer=True)
def _keras(setup):
    if setup.dtype != "float32":
        raise Unavailable("the Keras peer runs in float32 only")
    os.environ.setdefault("KERAS_BACKEND", "jax")  # the project's backend, unless chosen
    try:
        import keras
    except ImportError as e:
        raise Unavailable(f"keras not importable ({e})") from None
    C, H = setup.word_dim, setup.hidden_dim
    model = keras.Sequential(
        [
            keras.Input((setup.length,), dtype="int32"),
            keras.layers.Embedding(C, H),
            keras.layers.SimpleRNN(H, use_bias=False, return_sequences=True),
            keras.layers.Dense(C, use_bias=False),
        ]
    )
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")
    model.compile(optimizer=keras.optimizers.SGD(setup.learning_rate), loss=loss_fn)
    p = setup.params  # SimpleRNN: h_t = tanh(e_t K + h_{t-1} R), so R = W^T; Dense: h V^T
    model.set_weights([p["U"].T, np.eye(H), p["W"].T, p["V"].T])
    data = [
        (np.array(xs, dtype=np.int32), np.array(ys, dtype=np.int32)) for xs, ys in setup.batches
    ]

    def step(i):
        model.train_on_batch(*data[i])

    return Runner(step, lambda i: float(loss_fn(data[i][1], model(data[i][0], training=False))))
