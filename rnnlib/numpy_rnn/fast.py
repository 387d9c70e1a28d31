"""RNNNumpyFast: the same model as RNNNumpy, trained on minibatches, for real training runs (notebook 4).

Same equations, same parameters (U, V, W), same truncated BPTT, same checkpoints: a model
trained here opens with the readable code (`RNNNumpy(**model.config())` + `set_params`).
What makes it fast, biggest effect first:

1. Minibatches. The output layer (C x H, 8000 x 100) is 99% of the work; done for all
   (batch x time) positions at once it is one large matrix product, which BLAS runs near
   the machine's peak, instead of T * B small ones.
2. float32 by default: half the memory traffic, twice the SIMD width.
3. The (N, C) score matrix is touched as little as possible: one product writes it, exp
   reads it once, two products read the result. The softmax is never normalised over
   (N, C): the row sums come out of the product E @ [V | 0... | 1] for free (a column of
   ones appended to V), and the 1/sum scaling is applied to the small (N, H) operands
   instead. The max-subtraction that keeps exp from overflowing is done only when those
   row sums show that it was needed (rarely: tanh keeps the states in [-1, 1]).
4. Time-major states (T, B, H) and U stored transposed as (C, H), so reading the words of
   step t is a row take; the recurrence is the only Python loop over time. The gradient of
   U is kept as rows for the words that occurred, never as a dense (H, C) matrix.

Truncated BPTT, vectorised: with truncation k, step j receives error from the outputs
t = j, ..., j + k. Instead of a backward sweep per output (RNNNumpy's double loop), one
loop over the distance d = 0..k moves all the errors one step back at once.

Sentences of different lengths are padded on the right; padded positions are dropped
before the output layer, so padding costs only in the (cheap) recurrence.

The training recipe's extras, both off by default: `dropout` (inverted, on the recurrent
layer's input U[:, x_t] and on its output s_t before V; only inside step_batch, masks from
rnnlib.numpy_rnn.dropout) and `tie_embeddings` (V is U^T: one (C, H) matrix, stored once,
which both the input and the output gradients update).
"""

import numpy as np

from rnnlib.interface import (
    bptt_truncate_property,
    check_clip_norm,
    check_corpus,
    check_dropout,
    check_float_dtype,
    check_learning_rate,
    check_model_size,
    check_rnn_params,
    check_seed,
    check_sentence,
    check_sentences,
    check_tie_embeddings,
    check_tied,
    model_config,
    model_repr,
    rnn_param_shapes,
)
from rnnlib.numpy_rnn.dropout import dropout_masks
from rnnlib.numpy_rnn.readable import RNNNumpy, global_norm, softmax

# Positions per chunk when only the loss is needed: bounds the two (N, C) buffers (64 MB
# each at C=8000 in float32) whatever the size of the data set.
LOSS_CHUNK_TOKENS = 2048


def _checked_pairs(xs, ys, word_dim: int) -> list:
    """(x, y) int arrays, validated as RNNNumpy validates them, in one pass for the usual case."""
    check_corpus(xs, ys)
    pairs = [(np.asarray(x), np.asarray(y)) for x, y in zip(xs, ys, strict=True)]
    usual = all(
        x.ndim == y.ndim == 1
        and 0 < len(x) == len(y)
        and x.dtype.kind in "iu"
        and y.dtype.kind in "iu"
        for x, y in pairs
    )
    if usual:  # one range check over all the ids instead of one per sentence
        ids = np.concatenate([a for pair in pairs for a in pair])
        usual = ids.min() >= 0 and ids.max() < word_dim
    if not usual:  # something is wrong: let the readable model's checks say what and where
        pairs = check_sentences(xs, ys, word_dim)
    return pairs


def _clip(grads: tuple, clip_norm: float, factor: float) -> None:
    """Scale `grads` in place by `factor`, after shrinking their global norm to `clip_norm`."""
    norm = global_norm(grads)
    factor = factor * min(1.0, clip_norm / norm) if norm > 0 else factor
    for g in grads:
        g *= factor


class Batch:
    """Sentences padded into time-major (T, B) arrays, with the flat indices of real words."""

    def __init__(self, xs, ys, word_dim: int):
        pairs = _checked_pairs(xs, ys, word_dim)
        self.lengths = np.array([len(x) for x, _ in pairs])  # (B,)
        B, T = len(pairs), int(self.lengths.max())
        self.x = np.zeros((T, B), dtype=np.int64)  # padding reads word 0; its error is zero
        y = np.zeros((T, B), dtype=np.int64)
        for b, (xb, yb) in enumerate(pairs):
            self.x[: len(xb), b] = xb
            y[: len(yb), b] = yb
        # Position (t, b) is real when t < length_b; flat index t * B + b, in time order.
        real = np.arange(T)[:, None] < self.lengths[None, :]  # (T, B)
        self.positions = np.flatnonzero(real)  # (N,)
        self.targets = y.ravel()[self.positions]  # (N,)
        self.words = self.x.ravel()[self.positions]  # (N,) the word read at each position


class RNNNumpyFast:
    """RNNNumpy's model, with a batched forward/backward pass; float32 unless asked."""

    batch_loss = "mean per target token"  # what sgd_step_batch and step_batch descend
    step_batch_loss = batch_loss  # what step_batch descends, as in every word model

    def __init__(
        self,
        word_dim,
        hidden_dim=100,
        bptt_truncate=4,
        seed: int = 0,
        dtype=np.float32,
        dropout=0.0,
        tie_embeddings=False,
    ):
        self.word_dim, self.hidden_dim = check_model_size(word_dim, hidden_dim)  # C, H
        self.bptt_truncate = bptt_truncate
        self.seed = check_seed(seed)
        self.dtype = check_float_dtype(dtype)
        self.dropout = check_dropout(dropout)
        self.tie_embeddings = check_tie_embeddings(tie_embeddings)
        # The readable model draws the initial weights, so one seed means one model in both.
        start = RNNNumpy(word_dim, hidden_dim, seed=seed).get_params()
        if self.tie_embeddings:  # one matrix: start from U, as the input side would
            start["V"] = start["U"].T
        self.set_params(start)

    bptt_truncate = bptt_truncate_property()  # the same rule and checks as every model
    param_shapes = staticmethod(rnn_param_shapes)  # U (H, C), V (C, H), W (H, H), as RNNNumpy's

    @property
    def U(self) -> np.ndarray:
        """The tutorial's U (H, C): a transposed view of the stored (C, H) table."""
        return self._UT.T

    @property
    def V(self) -> np.ndarray:
        """V (C, H): a view of the stored [V | 0... | 1]."""
        return self._V1[:, : self.hidden_dim]

    def __repr__(self) -> str:
        return model_repr(self)

    # --- forward ---------------------------------------------------------------------------

    def _states(self, x: np.ndarray, input_mask=None) -> np.ndarray:
        """Hidden states (T, B, H) for time-major word ids x (T, B), inputs optionally dropped."""
        S = self._UT[x]  # (T, B, H): U[:, x_t] for every sentence, a row take (a copy)
        if input_mask is not None:
            S *= input_mask  # dropout on what each word pushes into the state
        pushed = np.empty_like(S[0])  # (B, H)
        np.tanh(S[0], out=S[0])  # s_{-1} = 0, so the first step has no W term
        for t in range(1, len(S)):
            np.matmul(S[t - 1], self.W.T, out=pushed)
            S[t] += pushed
            np.tanh(S[t], out=S[t])
        return S

    def _buffers(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Two reused (n, C) buffers: allocating 20-100 MB every step costs page faults."""
        buffers = getattr(self, "_nc_buffers", None)
        fits = buffers is not None and buffers.shape[1] >= n and buffers.shape[2] == self.word_dim
        if not fits or buffers.dtype != self.dtype:  # also after set_params resized the model
            buffers = self._nc_buffers = np.empty((2, n, self.word_dim), dtype=self.dtype)
        return buffers[0, :n], buffers[1, :n]

    def _softmax_parts(self, s: np.ndarray, targets: np.ndarray, right: np.ndarray):
        """E = exp(scores V s) (N, C), the product E @ right, and the target scores.

        `right`'s last column must be ones: that column of E @ right is the row sums of E.
        When the scores had to be shifted, E, the sums and the target scores are shifted
        alike, which leaves every probability and the loss unchanged.
        """
        Z, E = self._buffers(len(s))
        np.matmul(s, self.V.T, out=Z)  # (N, C) scores
        # A softmax is usually computed as exp(z - max z), so that exp cannot overflow, at
        # the price of two more passes over (N, C). With tanh keeping every |s_h| <= 1 the
        # scores rarely come near float32's limit (88), so try without: the row sums, which
        # are needed anyway, show whether exp overflowed (inf or nan) or underflowed to
        # (almost) nothing, and only then is the shift applied. exp writes into a second
        # buffer, so the scores are still there for that.
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            np.exp(Z, out=E)
            product = E @ right
        finfo = np.finfo(self.dtype)
        if not (np.isfinite(product).all() and product[:, -1].min() >= finfo.tiny / finfo.eps):
            Z -= Z.max(axis=1, keepdims=True)  # the largest score of each row becomes 0
            with np.errstate(under="ignore"):
                np.exp(Z, out=E)
            product = E @ right
        return E, product, Z[np.arange(len(s)), targets]

    def forward_propagation(self, x):
        """Probabilities o (T, C) and hidden states s (T, H) for one sentence of word ids."""
        x = check_sentence(x, word_dim=self.word_dim)
        s = self._states(x[:, None])[:, 0]  # (T, H)
        return softmax(s @ self.V.T), s

    def predict(self, x) -> np.ndarray:
        """The most probable next word at every step, (T,)."""
        x = check_sentence(x, word_dim=self.word_dim)
        return np.argmax(self._states(x[:, None])[:, 0] @ self.V.T, axis=1)

    def calculate_total_loss(self, X, Y) -> float:
        """Cross-entropy summed over every word of every sentence."""
        check_corpus(X, Y)
        total, start = 0.0, 0
        while start < len(X):  # chunks of about LOSS_CHUNK_TOKENS words
            stop, tokens = start, 0
            while stop < len(X) and (stop == start or tokens + len(X[stop]) <= LOSS_CHUNK_TOKENS):
                tokens += len(X[stop])
                stop += 1
            batch = Batch(X[start:stop], Y[start:stop], self.word_dim)
            s = self._states(batch.x).reshape(-1, self.hidden_dim)[batch.positions]  # (N, H)
            # Only the row sums are needed: a product with the ones column (a GEMV).
            _, sums, target_scores = self._softmax_parts(s, batch.targets, self._V1[:, -1:])
            total += float(np.sum(np.log(sums[:, 0], dtype=np.float64) - target_scores))
            start = stop
        return total

    def calculate_loss(self, X, Y) -> float:
        """Cross-entropy per word: log(C) for a model that knows nothing."""
        check_corpus(X, Y)
        return self.calculate_total_loss(X, Y) / sum(len(y) for y in Y)

    # --- backward ----------------------------------------------------------------------------

    def _gradients(self, batch: Batch, scale: float = 1.0, masks=None):
        """Gradients of `scale` x the batch's total loss: U as (word ids, rows of dU^T), V, W.

        Everything downstream is linear in the output error, so `scale` (the learning rate,
        for an SGD step) is applied once to the small (N, H) operands, never to a large result.
        masks: (input, output) dropout masks, each (T, B, H), or None. With tied embeddings
        these are still the two separate gradients, of U as input and of V as output.
        """
        H = self.hidden_dim
        input_mask, output_mask = (None, None) if masks is None else masks
        S = self._states(batch.x, input_mask)  # (T, B, H), undropped: the recurrence's states
        T, B = batch.x.shape
        s = S.reshape(-1, H)[batch.positions]  # (N, H) states at real positions
        if output_mask is not None:
            out_kept = output_mask.reshape(-1, H)[batch.positions]  # (N, H)
            s = s * out_kept  # what the output layer reads

        # Output layer. delta_o = E / sums - onehot(y), never formed: it is applied through
        # the small operands. E @ [V | 0... | 1] gives E V and, in its last column, the sums.
        E, EV1, _ = self._softmax_parts(s, batch.targets, self._V1)  # (N, C), (N, H + pad)
        sums = EV1[:, -1]  # (N,)
        inv_sums = 1.0 / sums[:, None]  # (N, 1)
        ds = EV1[:, :H] * inv_sums - self.V[batch.targets]  # (N, H) = delta_o @ V
        ds *= scale
        if output_mask is not None:
            ds *= out_kept  # a dropped unit passes no error back
        # delta_o * sums = E - sums * onehot(y): N scattered writes, not a pass over E.
        E[np.arange(len(s)), batch.targets] -= sums
        # dV = delta_o^T s, laid out like [V | 0... | 1] with zeros in the extra columns, so
        # that the update is one contiguous pass over the stored matrix and keeps the ones.
        s_scaled = np.zeros((len(s), self._V1.shape[1]), dtype=self.dtype)  # (N, H + padding)
        np.multiply(s, inv_sums * scale, out=s_scaled[:, :H])
        dV1 = E.T @ s_scaled  # (C, H + padding)

        # Back through time. delta[d][j]: error on step j's pre-activation coming from the
        # output d steps later; delta[d][j] = (W^T delta[d-1][j+1]) * (1 - s_j^2).
        tanh_grad = 1.0 - S * S  # (T, B, H)
        total = np.zeros_like(S)  # (T, B, H) summed over the outputs that reach each step
        total.reshape(-1, H)[batch.positions] = ds
        total *= tanh_grad  # distance 0: each output's own step
        k = self.bptt_truncate
        if k == -1 or k >= T - 1:  # nothing is cut: one ordinary backward sweep
            for j in range(T - 1, 0, -1):
                total[j - 1] += (total[j] @ self.W) * tanh_grad[j - 1]
        else:  # vectorised over steps, one loop over distances: k products of (T*B, H) x (H, H)
            delta = total.copy()
            for d in range(1, k + 1):
                delta = (delta[1:] @ self.W) * tanh_grad[: T - d]  # (T - d, B, H)
                total[: T - d] += delta
        dW = total[1:].reshape(-1, H).T @ S[:-1].reshape(-1, H)  # (H, H), s_{-1} = 0 adds 0
        # U: only the columns of the words read get a gradient. Sort the positions by word
        # id and sum each run of equal ids: one row per distinct word.
        order = np.argsort(batch.words, kind="stable")
        ids = batch.words[order]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        pushed_error = total if input_mask is None else total * input_mask  # (T, B, H)
        dUT_rows = np.add.reduceat(
            pushed_error.reshape(-1, H)[batch.positions[order]], starts, axis=0
        )
        return ids[starts], dUT_rows, dV1, dW

    def bptt_batch(self, xs, ys) -> dict[str, np.ndarray]:
        """Gradients (dense, keyed like get_params) of the total loss of a list of sentences."""
        words, dUT_rows, dV1, dW = self._gradients(Batch(xs, ys, self.word_dim))
        dU = np.zeros((self.hidden_dim, self.word_dim), dtype=self.dtype)
        dU[:, words] = dUT_rows.T
        return {"U": dU, "V": np.ascontiguousarray(dV1[:, : self.hidden_dim]), "W": dW}

    def bptt(self, x, y) -> dict[str, np.ndarray]:
        """Gradients of one sentence's total loss, as RNNNumpy.bptt."""
        return self.bptt_batch([x], [y])

    def sgd_step_batch(self, xs, ys, learning_rate, clip_norm=None) -> None:
        """One SGD step on the mean loss per target token of a list of sentences.

        The mean, not the sum: the step's size then does not grow with the batch size or the
        sentence lengths, so one learning rate serves them all. Optionally norm-clipped.
        """
        batch = Batch(xs, ys, self.word_dim)
        self._sgd(batch, learning_rate, clip_norm, loss_scale=1.0 / len(batch.targets))

    def sgd_step(self, x, y, learning_rate, clip_norm=None) -> None:
        """One SGD step on one sentence's summed loss, as RNNNumpy.sgd_step."""
        self._sgd(Batch([x], [y], self.word_dim), learning_rate, clip_norm, loss_scale=1.0)

    def step_batch(self, xs, ys, optimizer, clip_norm=None) -> None:
        """One step of `optimizer` (rnnlib.training.optimizers) on the mean loss per target token.

        Dropout (if any) applies here, with masks from (seed, optimizer.t). Plain SGD on an
        untied model without dropout takes the fused path of sgd_step_batch; otherwise the
        optimiser gets dense gradients keyed like `trainable_params()` and updates views of
        the stored weights in place.
        """
        batch = Batch(xs, ys, self.word_dim)
        loss_scale = 1.0 / len(batch.targets)
        fused = optimizer.name == "sgd" and not self.tie_embeddings and not self.dropout
        if fused:  # plain SGD (rnnlib.training.optimizers.SGD)
            self._sgd(batch, optimizer.learning_rate, clip_norm, loss_scale)
            optimizer.count_step()
            return
        masks = None
        if self.dropout:
            shape = (*batch.x.shape, self.hidden_dim)  # (T, B, H)
            masks = dropout_masks(self.dropout, self.seed, optimizer.t, [shape, shape], self.dtype)
        grads = self._dense_gradients(batch, loss_scale, check_clip_norm(clip_norm), masks)
        optimizer.update(self.trainable_params(), grads)  # views: in place

    def trainable_params(self) -> dict[str, np.ndarray]:
        """Views of the stored weights an optimiser updates: U, V, W, or U, W when tied."""
        if self.tie_embeddings:
            return {"U": self.U, "W": self.W}
        return {"U": self.U, "V": self.V, "W": self.W}

    def _dense_gradients(self, batch: Batch, loss_scale: float, clip_norm, masks=None) -> dict:
        """Gradients of loss_scale x the batch's loss, keyed like trainable_params(), clipped."""
        words, dUT_rows, dV1, dW = self._gradients(batch, scale=loss_scale, masks=masks)
        if self.tie_embeddings:  # one matrix, two uses: dU^T (input side) + dV (output side)
            dUT = dV1[:, : self.hidden_dim].copy()  # (C, H)
            dUT[words] += dUT_rows
            grads = {"U": dUT.T, "W": dW}
        else:
            dUT = np.zeros_like(self._UT)  # (C, H); its transpose is laid out like self.U
            dUT[words] = dUT_rows
            grads = {"U": dUT.T, "V": dV1[:, : self.hidden_dim], "W": dW}
        if clip_norm is not None:
            _clip(tuple(grads.values()), clip_norm, 1.0)
        return grads

    def _sgd(self, batch: Batch, learning_rate, clip_norm, loss_scale: float) -> None:
        """One SGD step on `loss_scale` x the batch's total loss, without dense gradients."""
        learning_rate, clip_norm = check_learning_rate(learning_rate), check_clip_norm(clip_norm)
        if self.tie_embeddings:  # the clipping norm is that of the summed (tied) gradient
            grads = self._dense_gradients(batch, loss_scale, clip_norm)
            for name, p in self.trainable_params().items():
                p -= learning_rate * grads[name]
            return
        if clip_norm is None:  # the step comes out of _gradients already scaled
            words, dUT_rows, dV1, dW = self._gradients(batch, scale=learning_rate * loss_scale)
        else:
            words, dUT_rows, dV1, dW = self._gradients(batch, scale=loss_scale)
            _clip((dUT_rows, dV1, dW), clip_norm, learning_rate)
        self._UT[words] -= dUT_rows  # word ids are unique, so no update is lost
        self._V1 -= dV1  # one pass over the stored [V | 0... | 1]; dV1's extra columns are 0
        self.W -= dW

    # --- parameters ------------------------------------------------------------------------

    def get_params(self) -> dict[str, np.ndarray]:
        """Copies of U (H, C), V (C, H), W (H, H): the tutorial's layout, as RNNNumpy's.

        With tied embeddings V is U^T: the same numbers, so every backend can read them.
        """
        return {"U": self.U.copy(), "V": self.V.copy(), "W": self.W.copy()}

    def set_params(self, params: dict) -> None:
        """Replace U, V, W (the same checks as RNNNumpy's); new shapes resize the model.

        A tied model takes only params whose V equals U^T (as its get_params gives them).
        """
        params = check_rnn_params(params, self.dtype, self.word_dim, self.hidden_dim)
        if self.tie_embeddings:
            check_tied(params["U"], params["V"])
        self.hidden_dim, self.word_dim = params["V"].shape[1], params["V"].shape[0]
        self._UT = np.ascontiguousarray(params["U"].T)  # (C, H)
        # [V | 0... | 1]: the zero columns pad each row to a multiple of 8 numbers, and
        # aligned rows make the products with the (N, C) matrix about 10% faster.
        width = -(-(self.hidden_dim + 1) // 8) * 8
        self._V1 = np.zeros((self.word_dim, width), dtype=self.dtype)
        self._V1[:, : self.hidden_dim] = params["V"]
        self._V1[:, -1] = 1.0
        if self.tie_embeddings:  # U^T and V are one stored matrix: a view into [V | 0... | 1]
            self._UT = self._V1[:, : self.hidden_dim]
        self.W = params["W"]  # (H, H)

    def config(self) -> dict:
        """Constructor arguments (JSON-safe); RNNNumpy accepts the same ones."""
        return model_config(self)
