"""Optimisers in NumPy, each a few lines of its formula: SGD, momentum, RMSprop, Adam (notebook 4).

An optimiser turns gradients into a change of the parameters. All four work on dicts
name -> ndarray (a model's get_params() layout) and change the parameters in place:

    SGD        p <- p - lr g
    momentum   v <- beta v + g;                 p <- p - lr v        (heavy ball)
               with nesterov=True:              p <- p - lr (g + beta v)
    RMSprop    a <- rho a + (1 - rho) g^2;      p <- p - lr g / sqrt(a + eps)
    Adam       m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
               p <- p - lr m_hat / (sqrt(v_hat) + eps),   m_hat = m / (1 - b1^t),
                                                          v_hat = v / (1 - b2^t)

Momentum remembers a running sum of past gradients, so steps along a direction the
gradients agree on grow, while directions where they flip sign cancel out. Adam divides
each parameter's step by a running size of its own gradients: a rare word's column of U
moves as far per step as a frequent one's (RMSprop, notebook 6's optimiser, does just
that part, with no running mean of g itself). m and v start at zero, so early averages are too
small; dividing by 1 - b^t ("bias correction") undoes exactly that, and makes Adam's first
step lr * sign(g) for every parameter with a gradient.

`learning_rate` is a plain attribute, so the trainer's halving rule can lower it. The
moments and the step count t are the optimiser's state: `state_dict()` gives them as
arrays and numbers (an .npz stores them without pickle), `load_state_dict()` puts them
back, and training continues exactly as if it had never stopped.
"""

import math
import numbers

import numpy as np

# --- shared checks -------------------------------------------------------------------------

IN_0_1 = "a number in [0, 1)"  # a decay rate: 0 forgets at once, 1 would never forget


def _check_number(value, name: str, expected: str, accept) -> float:
    """`value` as a float if it is a finite real number that `accept`s; else a clear error."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not (real and math.isfinite(value) and accept(value)):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return float(value)


def finite(array: np.ndarray) -> bool:
    """Whether `array` is free of NaN/inf: one sum, no temporary array (NaN or inf anywhere
    makes the sum non-finite); an elementwise look only when the sum overflowed."""
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing sum is looked into
        total = float(np.sum(array))
    return math.isfinite(total) or bool(np.all(np.isfinite(array)))


class NonFiniteGradient(ValueError):
    """A gradient holds NaN or inf; the step was refused before anything changed."""


def _pairs(params: dict, grads: dict):
    """(name, parameter, gradient) for every parameter; names and shapes must agree, and every
    gradient must be finite (checked before any parameter changes, so a refused step needs no
    copy of the parameters to undo it)."""
    if set(params) != set(grads):
        raise ValueError(
            f"gradients for {sorted(grads)} do not match the parameters {sorted(params)}"
        )
    for name, p in params.items():
        if grads[name].shape != p.shape:
            raise ValueError(f"gradient {name} has shape {grads[name].shape}, parameter {p.shape}")
    for name, g in grads.items():
        if not finite(g):
            raise NonFiniteGradient(f"the gradient of {name} holds NaN or inf")
    return [(name, p, grads[name]) for name, p in params.items()]


# --- the optimisers ------------------------------------------------------------------------


class Optimizer:
    """What the three share: the learning rate, the step count t, and saving their state."""

    name = ""  # the make_optimizer name
    slots = ()  # the per-parameter arrays it keeps (momentum's velocity, Adam's m and v)

    def __init__(self, learning_rate: float):
        self.learning_rate = learning_rate
        self.t = 0  # steps taken so far (Adam's t)
        self.state = {slot: {} for slot in self.slots}  # slot -> name -> array like the param

    @property
    def learning_rate(self) -> float:
        """The step size; the halving rule lowers it between steps."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        self._learning_rate = _check_number(value, "learning_rate", "a number > 0", lambda v: v > 0)

    def hyperparameters(self) -> dict:
        """The constructor's arguments, e.g. {'learning_rate': 0.001, 'beta1': 0.9, ...}."""
        return {"learning_rate": self.learning_rate}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"

    def _slot(self, slot: str, name: str, p: np.ndarray) -> np.ndarray:
        """The optimiser's array `slot` for parameter `name`: zeros (p's shape, dtype) at first."""
        arrays = self.state[slot]
        if name not in arrays:
            arrays[name] = np.zeros_like(p)
        return arrays[name]

    def update(self, params: dict, grads: dict) -> None:
        """Change `params` (name -> ndarray) in place by one step along `grads`."""
        raise NotImplementedError

    def count_step(self) -> None:
        """Count one step taken outside `update` (a model's fused SGD step): t += 1."""
        self.t += 1

    def state_dict(self) -> dict:
        """Everything needed to continue: name, hyperparameters, t, and the slot arrays
        as '<slot>/<parameter name>' (copies). Only strings, numbers and arrays."""
        state = {"name": self.name, **self.hyperparameters(), "t": self.t}
        for slot, arrays in self.state.items():
            state.update({f"{slot}/{name}": a.copy() for name, a in arrays.items()})
        return state

    def load_state_dict(self, state: dict) -> None:
        """Continue from `state_dict()`'s output (0-d arrays, as an .npz returns, are fine)."""
        name = str(np.asarray(state.get("name", "")))
        if name != self.name:
            raise ValueError(f"this is the state of a {name!r} optimiser, not of {self.name!r}")
        hyper = {k: state[k] for k in self.hyperparameters() if k in state}
        missing = sorted(set(self.hyperparameters()) - set(hyper) | ({"t"} - set(state)))
        unknown = sorted(
            k
            for k in state
            if k not in ("name", "t", *self.hyperparameters())
            and k.partition("/")[0] not in self.slots
        )
        if missing or unknown:
            raise ValueError(
                f"not a {self.name!r} optimiser state: missing {missing}, unknown {unknown}"
            )
        checked = type(self)(**{k: np.asarray(v).item() for k, v in hyper.items()})
        vars(self).update(vars(checked))  # the saved hyperparameters, checked; no moments yet
        self.t = int(np.asarray(state["t"]))
        for key, value in state.items():
            slot, _, param = key.partition("/")
            if slot in self.slots:
                self.state[slot][param] = np.array(value)  # a copy, dtype and layout kept


class SGD(Optimizer):
    """Plain stochastic gradient descent: p <- p - lr g."""

    name = "sgd"

    def __init__(self, learning_rate: float = 0.5):
        super().__init__(learning_rate)

    def update(self, params: dict, grads: dict) -> None:
        """p <- p - lr g, for every parameter."""
        pairs = _pairs(params, grads)  # checked before anything changes, t included
        self.t += 1
        for _, p, g in pairs:
            p -= self.learning_rate * g


class Momentum(Optimizer):
    """SGD with (heavy-ball) momentum, optionally Nesterov's: v <- beta v + g; p <- p - lr v."""

    name = "momentum"
    slots = ("velocity",)

    def __init__(self, learning_rate: float = 0.05, beta: float = 0.9, nesterov: bool = False):
        self.beta = _check_number(beta, "beta", IN_0_1, lambda v: 0 <= v < 1)
        if not isinstance(nesterov, bool | np.bool_):
            raise ValueError(f"nesterov must be True or False, got {nesterov!r}")
        self.nesterov = bool(nesterov)
        super().__init__(learning_rate)

    def hyperparameters(self) -> dict:
        return {**super().hyperparameters(), "beta": self.beta, "nesterov": self.nesterov}

    def update(self, params: dict, grads: dict) -> None:
        """v <- beta v + g;  p <- p - lr v  (Nesterov: p <- p - lr (g + beta v))."""
        pairs = _pairs(params, grads)
        self.t += 1
        for name, p, g in pairs:
            v = self._slot("velocity", name, p)
            v[...] = self.beta * v + g  # a running, decaying sum of the gradients
            if self.nesterov:  # look one step ahead along the velocity
                p -= self.learning_rate * (g + self.beta * v)
            else:
                p -= self.learning_rate * v


class RMSprop(Optimizer):
    """RMSprop (Tieleman & Hinton, 2012): each step divided by a running size of its gradients.

    eps sits inside the square root, as in the original tutorial's GRU (and GRUPyTensor's
    own in-graph RMSprop, notebook 6): the same formula, so the two agree step for step.
    """

    name = "rmsprop"
    slots = ("square",)

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, eps: float = 1e-6):
        self.rho = _check_number(rho, "rho", IN_0_1, lambda v: 0 <= v < 1)
        self.eps = _check_number(eps, "eps", "a number > 0", lambda v: v > 0)
        super().__init__(learning_rate)

    def hyperparameters(self) -> dict:
        return {**super().hyperparameters(), "rho": self.rho, "eps": self.eps}

    def update(self, params: dict, grads: dict) -> None:
        """a <- rho a + (1-rho) g^2;  p <- p - lr g / sqrt(a + eps)."""
        self.t += 1
        for name, p, g in _pairs(params, grads):
            a = self._slot("square", name, p)
            a[...] = self.rho * a + (1 - self.rho) * g * g  # running mean of g^2
            p -= self.learning_rate * g / np.sqrt(a + self.eps)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): steps scaled per parameter by running moments of g."""

    name = "adam"
    slots = ("m", "v")

    def __init__(
        self, learning_rate: float = 0.003, beta1: float = 0.9, beta2: float = 0.999, eps=1e-8
    ):
        self.beta1 = _check_number(beta1, "beta1", IN_0_1, lambda v: 0 <= v < 1)
        self.beta2 = _check_number(beta2, "beta2", IN_0_1, lambda v: 0 <= v < 1)
        self.eps = _check_number(eps, "eps", "a number > 0", lambda v: v > 0)
        super().__init__(learning_rate)

    def hyperparameters(self) -> dict:
        extra = {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}
        return {**super().hyperparameters(), **extra}

    def update(self, params: dict, grads: dict) -> None:
        """m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;  p <- p - lr m_hat / (sqrt(v_hat) + eps)."""
        pairs = _pairs(params, grads)
        self.t += 1
        b1, b2, t = self.beta1, self.beta2, self.t
        for name, p, g in pairs:
            m, v = self._slot("m", name, p), self._slot("v", name, p)
            m[...] = b1 * m + (1 - b1) * g  # running mean of g
            v[...] = b2 * v + (1 - b2) * g * g  # running mean of g^2
            m_hat = m / (1 - b1**t)  # bias correction: m and v started at 0
            v_hat = v / (1 - b2**t)
            p -= self.learning_rate * m_hat / (np.sqrt(v_hat) + self.eps)


OPTIMIZERS = {cls.name: cls for cls in (SGD, Momentum, RMSprop, Adam)}


# --- checking a saved state ----------------------------------------------------------------

# Slots that hold running means of g^2: never negative (sqrt(v) divides every step).
NON_NEGATIVE_SLOTS = {"v"}


def check_state(state: dict, shapes: dict, complete: bool = True) -> None:
    """Refuse a saved optimiser state that `load_state_dict` must not continue from.

    `shapes` is the model's parameter name -> shape. Every slot array must be a finite float
    array of its parameter's shape (v never negative); t a whole number >= 0. With
    `complete`, a state that has taken steps must hold every slot of every parameter (a
    missing moment would silently restart at zero). Raises ValueError naming the key.
    """
    name = np.asarray(state.get("name", ""))
    if name.shape != () or str(name) not in OPTIMIZERS:
        raise ValueError(f"optimizer state 'name' is {name!r}: expected one of {list(OPTIMIZERS)}")
    slots = OPTIMIZERS[str(name)].slots
    for key, value in state.items():
        array = np.asarray(value)
        slot, _, param = key.partition("/")
        if not param:  # a number: t or a hyperparameter
            if key != "name" and (array.shape != () or array.dtype.kind not in "fiub"):
                raise ValueError(
                    f"optimizer state {key!r} must be one number, got shape {array.shape} "
                    f"and dtype {array.dtype}"
                )
            continue
        if slot not in slots or param not in shapes:
            raise ValueError(
                f"optimizer state {key!r} is not a moment of this model's weights: expected "
                f"'<{'|'.join(slots) or 'no slots'}>/<{'|'.join(shapes)}>'"
            )
        if array.shape != tuple(shapes[param]) or array.dtype.kind != "f":
            raise ValueError(
                f"optimizer state {key!r} has shape {array.shape} and dtype {array.dtype}; "
                f"expected floats of parameter {param}'s shape {tuple(shapes[param])}"
            )
        if not np.all(np.isfinite(array)):
            raise ValueError(f"optimizer state {key!r} holds NaN or inf")
        if slot in NON_NEGATIVE_SLOTS and np.any(array < 0):
            raise ValueError(f"optimizer state {key!r} is a mean of squares but holds negatives")
    t = np.asarray(state.get("t", 0))
    if t.dtype.kind not in "iuf" or not float(t) >= 0 or float(t) != int(t):
        raise ValueError(f"optimizer state 't' must be a whole number >= 0, got {t!r}")
    if complete and int(t) > 0:
        missing = [f"{s}/{p}" for s in slots for p in shapes if f"{s}/{p}" not in state]
        if missing:
            raise ValueError(
                f"optimizer state is missing {missing} after {int(t)} steps: resetting the "
                "optimiser starts its moments afresh"
            )


def make_optimizer(name: str, **hyperparameters) -> Optimizer:
    """The optimiser called `name` ('sgd', 'momentum', 'rmsprop' or 'adam') with these hyperparameters.

    The default rates suit a mean loss per token without clipping (RNNNumpyFast, built-in
    corpus): SGD 0.5, momentum 0.05 (the same speed once its velocity has built up), RMSprop
    0.001, Adam 0.003. With clipping at 1, SGD tolerates 2.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}: expected one of {list(OPTIMIZERS)}")
    return OPTIMIZERS[name](**hyperparameters)


def optimizer_from_state(state: dict) -> Optimizer:
    """The optimiser a `state_dict()` came from, with that state loaded."""
    optimizer = make_optimizer(str(np.asarray(state.get("name", ""))))
    optimizer.load_state_dict(state)
    return optimizer
