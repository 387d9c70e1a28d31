"""The gated cells on the bench: rnnlib's KerasGRU and KerasLSTM, with PyTorch nn.GRU and nn.LSTM as peers.

Each pair trains the same model (rnnlib.tools.bench.cells: embedding, one gated layer, an
output matrix without bias) from the same weights on the same batches, by plain SGD on the
summed loss, as the RNN rows do. Registered after the RNN rows, so they close the table.
"""

import numpy as np

from rnnlib.tools.bench.harness import Runner, Unavailable, register


def _full_bptt_only(setup) -> None:
    if setup.bptt_truncate != -1:
        raise Unavailable("the gated rows compute full BPTT only (--bptt-truncate -1)")


def _keras_word_model(cell: str, setup):
    _full_bptt_only(setup)
    try:
        from rnnlib.keras_rnn.word import KerasGRU, KerasLSTM
    except ImportError as e:
        raise Unavailable(f"rnnlib.keras_rnn.word not importable ({e})") from None
    model_class = {"gru": KerasGRU, "lstm": KerasLSTM}[cell]
    model = model_class(setup.word_dim, setup.hidden_dim, dtype=setup.dtype)
    model.set_params(setup.cell_params(cell))
    lr = setup.learning_rate

    def step(i):
        model.sgd_step_batch(*setup.batches[i], lr)

    loss = lambda i: model.calculate_total_loss(*setup.batches[i])  # noqa: E731
    return Runner(step, loss, sync=model.get_params)  # copies to NumPy: the work is done


@register("keras KerasGRU", cell="gru")
def _keras_gru(setup):
    return _keras_word_model("gru", setup)


@register("keras KerasLSTM", cell="lstm")
def _keras_lstm(setup):
    return _keras_word_model("lstm", setup)


def _torch_gated(cell: str, setup):
    _full_bptt_only(setup)
    try:
        import torch
    except ImportError:
        raise Unavailable("torch not installed (pip install -e '.[bench]')") from None
    C, H, dtype = setup.word_dim, setup.hidden_dim, getattr(torch, setup.dtype)
    layer_class = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell]

    class LanguageModel(torch.nn.Module):  # what a learner would write
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(C, H, dtype=dtype)
            self.rnn = layer_class(H, H, dtype=dtype)
            self.out = torch.nn.Linear(H, C, bias=False, dtype=dtype)

        def forward(self, x):  # x (T, B) -> scores (T * B, C)
            return self.out(self.rnn(self.embed(x))[0]).reshape(-1, C)

    model = LanguageModel()
    p = {k: torch.tensor(v, dtype=dtype) for k, v in setup.cell_params(cell).items()}
    if cell == "gru":  # Keras stacks the gates z, r, candidate; PyTorch r, z, candidate
        order = [1, 0, 2]
        input_bias, recurrent_bias = p["bias"][0], p["bias"][1]
    else:  # input, forget, cell, output in both; Keras has one bias, PyTorch two
        order = [0, 1, 2, 3]
        input_bias, recurrent_bias = p["bias"], torch.zeros_like(p["bias"])

    def torch_order(a):  # (..., kH) in Keras' gate order -> PyTorch's
        return torch.cat([a[..., g * H : (g + 1) * H] for g in order], dim=-1)

    with torch.no_grad():
        model.embed.weight.copy_(p["E"].T)  # row x of the table = column x of E
        model.rnn.weight_ih_l0.copy_(torch_order(p["kernel"]).T)  # PyTorch: W x, Keras: x K
        model.rnn.weight_hh_l0.copy_(torch_order(p["recurrent_kernel"]).T)
        model.rnn.bias_ih_l0.copy_(torch_order(input_bias))
        model.rnn.bias_hh_l0.copy_(torch_order(recurrent_bias))
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


@register("torch nn.GRU", peer=True, cell="gru")
def _torch_gru(setup):
    return _torch_gated("gru", setup)


@register("torch nn.LSTM", peer=True, cell="lstm")
def _torch_lstm(setup):
    return _torch_gated("lstm", setup)
