"""Random streams: `rng = S.RandomStream(seed)` and its draws `uniform`, `normal`, `binomial`,
`multinomial`.

The state of a draw is a shared variable of two int64 words, (key, counter). Its values are
computed by NumPy's `Generator` over the counter-based Philox bit generator with that key,
starting at block counter·2**64 of its sequence; they are a pure function of the state, so the
`numpy` and `cpu` devices (which both run this code) agree bit for bit. A call would need 2**64
blocks of 256 bits to reach the next counter's values, so calls never overlap.

The state's next value, counter + 1, is the variable's `default_update` (as in Theano):
`S.compile` adds it to the updates of every function that reads the state, unless the caller
updates that state itself (give `(state, state)` to replay the same values on every call). Two
calls of a function therefore draw different values, and `rng.seed(s)` sets every state back
to its start, so the same calls draw the same values again. A loop (scan) threads a draw's
state like any other recurrent value: it reads `state` and its next value is
`state.default_update` (the pairs are `rng.updates`).

Draws have no gradient with respect to anything (their size, state or parameters): the
gradient is disconnected, as for an integer input. To differentiate with respect to a mean or
a scale, write the transform in the graph: `mean + std * rng.normal(size)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symbolic import dtypes
from symbolic.graph import SharedVariable, TensorType, Variable, as_variable, constant
from symbolic.op import Op
from symbolic.shape import as_shape, shape_of, static_entries


def initial_state(seed: int, position: int) -> np.ndarray:
    """The state of the draw at `position` in a stream seeded with `seed`: a key of 64 bits
    from NumPy's SeedSequence of (seed, position), and counter 0."""
    key = np.random.SeedSequence(seed, spawn_key=(position,)).generate_state(1, np.uint64)
    return np.array([key[0], 0], np.uint64).view(np.int64)


def generator(state: np.ndarray) -> np.random.Generator:
    key, counter = (int(v) for v in np.asarray(state).view(np.uint64))
    return np.random.Generator(np.random.Philox(key=key, counter=[0, counter, 0, 0]))


def _float_type(dtype: str) -> type:
    return np.float32 if dtype == "float32" else np.float64


def _check_range(name: str, value: np.ndarray, low: float, high: float) -> None:
    if np.any(~((value >= low) & (value <= high))):
        raise ValueError(f"{name} must lie in [{low}, {high}], got {value}")


def _uniform(gen, size, dtype, low, high):
    # low + (high − low)·u for u uniform in [0, 1), computed in the draw's dtype
    return low + (high - low) * gen.random(size, dtype=_float_type(dtype))


def _normal(gen, size, dtype, mean, std):
    _check_range("normal: std", std, 0, np.inf)
    return mean + std * gen.standard_normal(size, dtype=_float_type(dtype))


def _binomial(gen, size, dtype, n, p):
    _check_range("binomial: p", p, 0, 1)
    _check_range("binomial: n", n, 0, np.inf)
    if np.all(n == 1):  # Bernoulli: u < p with u uniform in [0, 1); 5× Generator.binomial's speed
        return gen.random(size) < p
    return gen.binomial(n, p, size)


def _multinomial(gen, size, dtype, n, pvals):
    # counts of n draws over the categories of the last axis, one set per row of pvals
    _check_range("multinomial: pvals", pvals, 0, 1)
    pvals = pvals.astype(np.float64)
    pvals = pvals / pvals.sum(axis=-1, keepdims=True)  # rows summing to 1 up to float32 rounding
    return gen.multinomial(np.broadcast_to(n, size[:-1]), np.broadcast_to(pvals, size))


# distribution -> (parameter names, parameter dtype (None: the draw's), sampler, float only)
DISTRIBUTIONS = {
    "uniform": (("low", "high"), None, _uniform, True),
    "normal": (("mean", "std"), None, _normal, True),
    "binomial": (("n", "p"), ("int64", "float64"), _binomial, False),
    "multinomial": (("n", "pvals"), ("int64", "float64"), _multinomial, False),
}


@dataclass(frozen=True)
class RandomDraw(Op):
    """Values of `distribution` of shape `size` drawn from the state (see the module's text);
    inputs: state, size, then the distribution's parameters (broadcast to `size`)."""

    distribution: str
    dtype: str

    @property
    def name(self) -> str:
        return f"random_{self.distribution}"

    def infer(self, state, size, *params):
        if state.dtype != "int64" or state.type.shape not in ((2,), (None,)):
            raise TypeError(f"{self.name}: the state must be 2 int64 words, got {state.describe()}")
        shape = static_entries(size)
        names = DISTRIBUTIONS[self.distribution][0]
        for name, p in zip(names, params):
            if p.ndim > len(shape) or any(
                have not in (1, None) and want is not None and have != want
                for have, want in zip(reversed(p.type.shape), reversed(shape))
            ):
                raise ValueError(
                    f"{self.name}: the parameter {name} of shape {p.type.shape} does not "
                    f"broadcast to the size {shape}"
                )
        return [TensorType(self.dtype, shape)]

    def perform(self, state, size, *params):
        names, _, sample, _ = DISTRIBUTIONS[self.distribution]
        size = tuple(int(n) for n in size)
        for name, p in zip(names, params):
            if np.broadcast_shapes(p.shape, size) != size:
                raise ValueError(
                    f"{self.name}: the parameter {name} of shape {p.shape} does not broadcast "
                    f"to the size {size}"
                )
        out = sample(generator(state), size, self.dtype, *params)
        return np.asarray(out).astype(self.dtype, copy=False)

    def grad(self, inputs, outputs, output_grads):
        return [None] * len(inputs)


class RandomStateVariable(SharedVariable):
    """The state of one draw, int64 (key, counter); `default_update` is its next value."""

    __slots__ = ("default_update",)

    def __init__(self, value: np.ndarray, name: str | None = None):
        super().__init__(value, name=name)
        self.default_update = self + constant(np.array([0, 1], np.int64))


class RandomStream:
    """A source of random draws, each with its own state (Theano's RandomStreams).

    Parameters
    ----------
    seed : non-negative int; the stream's draws depend on it and on their order of creation.

    Each method returns a symbolic tensor; every call of a compiled function that uses it draws
    new values. `size` may hold ints or symbolic integers (`x.shape`, `(x.shape[0], 10)`); the
    parameters may be numbers or tensors that broadcast to `size`.
    """

    def __init__(self, seed: int = 0):
        self._seed = _check_seed(seed)
        self.states: list[RandomStateVariable] = []

    def seed(self, seed: int) -> None:
        """Set every draw of this stream back to its start under `seed`."""
        self._seed = _check_seed(seed)
        for position, state in enumerate(self.states):
            state.set_value(initial_state(self._seed, position))

    @property
    def updates(self) -> list[tuple[SharedVariable, Variable]]:
        """The (state, next state) pair of every draw, in order of creation."""
        return [(state, state.default_update) for state in self.states]

    def uniform(self, size, low=0.0, high=1.0, dtype="float32") -> Variable:
        """Uniform values in [low, high) (up to the rounding of low + (high − low)·u)."""
        return self._draw("uniform", size, dtype, low, high)

    def normal(self, size, mean=0.0, std=1.0, dtype="float32") -> Variable:
        """Normal values of mean `mean` and standard deviation `std`."""
        return self._draw("normal", size, dtype, mean, std)

    def binomial(self, size, p=0.5, n=1, dtype="int64") -> Variable:
        """Successes in `n` trials of probability `p` (n = 1: 1 with probability p, else 0)."""
        return self._draw("binomial", size, dtype, n, p)

    def multinomial(self, pvals, n=1, dtype="int64") -> Variable:
        """Counts of `n` draws among the categories of the last axis of `pvals` (probabilities
        along it, one set per row); the result has pvals' shape (n = 1: one-hot rows)."""
        pvals = as_variable(pvals)
        return self._draw("multinomial", shape_of(pvals), dtype, n, pvals)

    def _draw(self, distribution: str, size, dtype, *params) -> Variable:
        _, param_dtypes, _, float_only = DISTRIBUTIONS[distribution]
        dtype = dtypes.as_dtype(dtype)
        if float_only and not dtypes.is_float(dtype):
            raise TypeError(f"{distribution} draws floats; dtype {dtype!r} is not a float dtype")
        params = [
            as_variable(p) if isinstance(p, Variable) else constant(p, want or dtype)
            for p, want in zip(params, param_dtypes or (None,) * len(params))
        ]
        position = len(self.states)
        state = RandomStateVariable(initial_state(self._seed, position), f"rng_state_{position}")
        self.states.append(state)
        return RandomDraw(distribution, dtype)(state, as_shape(size), *params)


def _check_seed(seed) -> int:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"a random stream's seed must be a non-negative int, got {seed!r}")
    return int(seed)
