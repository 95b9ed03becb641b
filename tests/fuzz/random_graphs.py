"""Seeded random graphs over the whole op library, with their inputs and output tolerances.

`random_graph(seed)` draws a graph from `np.random.default_rng(seed)` alone, so a seed is a
complete reproduction. A graph is a pool of terms: it starts from a few inputs of broadcastable
shapes (every rank pattern, dims of 1 declared or not) and applies a few random steps (the
methods of `GraphBuilder` named in STEPS), each to a term of the pool, adding the result.
Arguments are kept inside each op's domain (elementwise_table.py) by squashing them smoothly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from elementwise_table import BIG, BINARY, COMPARISONS, UNARY
from leaves import draw_leaf
from terms import Term, eps, image, reduced_count

import symbolic as S

MAX_SIZE = 240  # elements per term: graphs stay small, so a batch compiles and runs fast


@dataclass
class Graph:
    seed: int
    inputs: list  # variables, in the order of `values`
    values: list  # the arrays passed (any layout)
    outputs: list  # variables: the last term, plus the last float term when it is not float
    tolerances: list  # absolute tolerance on each output, from the error model
    magnitudes: list  # a bound on |value| of each output
    output_shapes: list
    steps: list = field(default_factory=list)  # one line per step, for reports
    float_dtype: str = "float64"

    @property
    def float_inputs(self) -> list[int]:
        return [i for i, v in enumerate(self.inputs) if v.dtype.startswith("float")]


class GraphBuilder:
    """Draws one graph from its seed."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.float_dtype = "float64" if self.rng.random() < 0.7 else "float32"
        self.inputs, self.values, self.pool, self.steps = [], [], [], []

    # ---- drawing helpers ----
    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def leaf(self, shape: tuple, dtype: str | None = None, lo=-2.0, hi=2.0) -> Term:
        dtype = dtype or self.float_dtype
        value = draw_leaf(self.rng, shape, dtype, lo, hi)
        declared = tuple(d if self.rng.random() < 0.3 or d == 1 else None for d in shape)
        if self.rng.random() < 0.2:  # a dim of 1 left undeclared: broadcast found at run time
            declared = tuple(None if d == 1 else d for d in declared)
        name = f"x{len(self.inputs)}"
        var = S.tensor(name, dtype, declared)
        self.inputs.append(var)
        self.values.append(value)
        if np.dtype(dtype).kind in "iub":
            lo, hi = (0.0, 1.0) if dtype == "bool" else (np.ceil(lo), np.floor(hi))
        text = f"input {name}: {dtype}{list(shape)} declared {list(declared)}, {_layout(value)}"
        return self.add(Term(var, shape, lo, hi), text)

    def add(self, term: Term, text: str) -> Term:
        assert term.var.ndim == len(term.shape), text
        self.pool.append(term)
        self.steps.append(f"t{len(self.pool) - 1} = {text}  # {term.dtype}{list(term.shape)}")
        return term

    def name(self, term: Term) -> str:
        return f"t{self.pool.index(term)}"

    def recent(self, kinds: str = "fiub") -> Term | None:
        """A term of the pool, the newest ones likelier."""
        options = [t for t in self.pool if t.kind in kinds]
        if not options:
            return None
        weights = np.arange(1, len(options) + 1, dtype=float) ** 2
        return options[int(self.rng.choice(len(options), p=weights / weights.sum()))]

    def squash(self, t: Term, lo: float, hi: float) -> Term:
        """t mapped smoothly into [lo, hi]: lo + (hi − lo)·σ(t) (hi = BIG: lo + softplus(t));
        integers by a modulo into the integer range."""
        if lo <= t.lo and t.hi <= hi:
            return t
        if t.kind in "iub":
            if t.kind == "b":
                t = self.converted(t, "int32")
            span = int(max(1, min(hi - lo, 8)))
            var = t.var % span + int(np.ceil(lo))
            squashed = Term(var, t.shape, np.ceil(lo), np.ceil(lo) + span - 1)
            return self.add(squashed, f"{self.name(t)} % {span} + {int(np.ceil(lo))}")
        x = t.var
        if hi >= BIG:
            var = S.softplus(S.tanh(x * (1 / 30)) * 30) + lo
            err = t.err + 8 * eps(var.dtype) * (lo + 31)
            squashed = Term(var, t.shape, lo, lo + 31, err)
            return self.add(squashed, f"softplus(30 tanh({self.name(t)} / 30)) + {lo}")
        width = hi - lo
        var = S.sigmoid(x) * width + lo
        err = width * t.err / 4 + 8 * eps(var.dtype) * max(abs(lo), abs(hi))
        return self.add(Term(var, t.shape, lo, hi, err), f"{lo} + {width} sigmoid({self.name(t)})")

    def converted(self, t: Term, dtype: str) -> Term:
        """t cast to `dtype` (exactly: bools and small integers)."""
        return self.add(Term(S.cast(t.var, dtype), t.shape, t.lo, t.hi), f"cast({self.name(t)})")

    def partner(self, shape: tuple) -> Term:
        """A term broadcastable with `shape` (from the pool, or a new input)."""
        options = [t for t in self.pool if _broadcasts(t.shape, shape) and t.kind != "b"]
        if options and self.rng.random() < 0.6:
            return self.pick(options)
        return self.leaf(
            tuple(
                d if self.rng.random() < 0.7 else 1
                for d in shape[int(self.rng.integers(len(shape) + 1)) :]
            )
        )

    # ---- steps: each returns the new term, or None when it does not apply ----
    def unary(self, t: Term):
        ops = (
            [op for op in UNARY if op.integer_ok or t.kind == "f"]
            if self.rng.random() < 0.3
            else UNARY
        )
        op = self.pick(ops)
        if t.kind == "b":
            t = self.converted(t, self.float_dtype)
        x = self.squash(t, *op.domains[0])
        integer = x.kind in "iu" and op.integer_ok
        lo, hi, (slope,) = image(op.numpy, [(x.lo, x.hi)], integer)
        var = op.fn(x.var)
        err = (slope * x.err if op.smooth else x.err) + op.ulps * eps(var.dtype) * max(
            abs(lo), abs(hi)
        )
        return self.add(Term(var, t.shape, lo, hi, err), f"{op.name}({self.name(x)})")

    def binary(self, t: Term):
        op = self.pick(BINARY)
        u = self.partner(t.shape)
        if not op.integer_ok and t.kind != "f" and u.kind != "f":
            t = self.converted(t, self.float_dtype)
        args = [self.squash(a, *d) for a, d in zip((t, u), op.domains)]
        integer = all(a.kind in "iub" for a in args)
        lo, hi, slopes = image(op.numpy, [(a.lo, a.hi) for a in args], integer)
        var = op.fn(args[0].var, args[1].var)
        err = (
            sum(s * a.err for s, a in zip(slopes, args)) if op.smooth else max(a.err for a in args)
        )
        err += op.ulps * eps(var.dtype) * max(abs(lo), abs(hi))
        shape = np.broadcast_shapes(t.shape, u.shape)
        return self.add(
            Term(var, shape, lo, hi, err), f"{op.name}({self.name(args[0])}, {self.name(args[1])})"
        )

    def compare_where(self, t: Term):
        """where(t ⋚ threshold, t, u): a branch chosen by a comparison."""
        if t.kind == "b":
            return None
        threshold = float(np.round(self.rng.uniform(t.lo, t.hi), 1))
        compare = self.pick(COMPARISONS if t.kind in "iu" else COMPARISONS[:4])
        cond = compare(t.var, threshold)
        u = self.partner(t.shape)
        var = S.where(cond, t.var, u.var)
        shape = np.broadcast_shapes(t.shape, u.shape)
        if self.rng.random() < 0.3:  # the condition itself as the result, or reduced
            var, lo, hi = cond, 0.0, 1.0
            shape = t.shape
            if self.rng.random() < 0.5 and t.ndim:
                var = self.pick([S.all, S.any])(cond, axis=-1)
                shape = t.shape[:-1]
            return self.add(
                Term(var, shape, lo, hi), f"{compare.__name__}({self.name(t)}, {threshold})"
            )
        err = max(t.err, u.err)
        lo, hi = min(t.lo, u.lo), max(t.hi, u.hi)
        text = f"where({compare.__name__}({self.name(t)}, {threshold}), {self.name(t)}, {self.name(u)})"
        return self.add(Term(var, shape, lo, hi, err), text)

    def clip(self, t: Term):
        if t.kind != "f":
            return None
        a, b = sorted(np.round(self.rng.uniform(t.lo, t.hi, 2), 2))
        var = S.clip(t.var, float(a), float(b) + 0.1)
        return self.add(
            Term(var, t.shape, a, b + 0.1, t.err), f"clip({self.name(t)}, {a}, {b + 0.1})"
        )

    def cast(self, t: Term):
        dtype = self.pick(["float32", "float64", "int32", "int64", "int8", "bool"])
        if dtype.startswith("int"):
            t = self.squash(t, -100.0, 100.0)
        var = S.cast(t.var, dtype)
        lo, hi = (0.0, 1.0) if dtype == "bool" else (t.lo - 1, t.hi + 1)
        err = t.err + eps(dtype) * t.magnitude if dtype.startswith("float") else 0.0
        return self.add(Term(var, t.shape, lo, hi, err), f"cast({self.name(t)}, {dtype})")

    def reduce(self, t: Term):
        name = self.pick(["sum", "mean", "prod", "max", "min", "var", "std", "argmax", "argmin"])
        axis, keepdims = self.axes(t.ndim), bool(self.rng.random() < 0.4)
        n = reduced_count(t.shape, axis)
        shape = np.sum(np.zeros(t.shape), axis=axis, keepdims=keepdims).shape
        if name in ("argmax", "argmin"):
            if t.kind == "b" or (axis is not None and not isinstance(axis, int)):
                return None
            keepdims = keepdims and axis is not None
            shape = np.argmax(np.zeros(t.shape), axis=axis, keepdims=keepdims).shape
        if t.kind == "b":
            t = self.converted(t, "int32")
        if name in ("max", "min", "argmax", "argmin", "var", "std") and t.kind == "f":
            t = self.untie(t)  # equal elements: no defined gradient, and argmax may differ
        if name == "std" and n < 2:
            return None  # the gradient of √var at var = 0 is undefined
        if name == "prod":
            t = self.squash(t, 0.5, 1.5) if t.kind == "f" else self.squash(t, -2, 2)
            if n > (24 if t.kind == "f" else 6):
                return None
        m, e = t.magnitude, t.err
        fn = getattr(S, name)
        var = fn(t.var, axis=axis, keepdims=keepdims)
        rounding = n * eps(var.dtype) * m
        lo, hi, err = {
            "sum": (n * t.lo, n * t.hi, n * (e + rounding)),
            "mean": (t.lo, t.hi, e + rounding),
            "prod": (-(m**n), m**n, n * m ** max(n - 1, 0) * (e + 2 * eps(var.dtype) * m)),
            "max": (t.lo, t.hi, e),
            "min": (t.lo, t.hi, e),
            "var": (0.0, (t.hi - t.lo) ** 2, 4 * m * (e + rounding)),
            "std": (0.0, t.hi - t.lo, 40 * m * (e + rounding) + 4 * eps(var.dtype) * m),
            "argmax": (0, n - 1, 0.0),
            "argmin": (0, n - 1, 0.0),
        }[name]
        return self.add(
            Term(var, shape, lo, hi, err),
            f"{name}({self.name(t)}, axis={axis}, keepdims={keepdims})",
        )

    def untie(self, t: Term) -> Term:
        """t plus a random constant per element, so that no two elements are equal."""
        offsets = S.constant(self.rng.uniform(-0.5, 0.5, t.shape).astype(t.dtype))
        err = t.err + eps(t.dtype) * (t.magnitude + 1)
        untied = Term(t.var + offsets, t.shape, t.lo - 0.5, t.hi + 0.5, err)
        return self.add(untied, f"{self.name(t)} + distinct offsets")

    def axes(self, ndim: int):
        """An axis argument in any form: None, an int (maybe negative), a tuple in any order."""
        form = self.rng.integers(3) if ndim else 0
        if form == 0:
            return None
        if form == 1:
            return int(self.rng.integers(-ndim, ndim))
        chosen = self.rng.permutation(ndim)[: int(self.rng.integers(1, ndim + 1))]
        return tuple(int(a) - ndim if self.rng.random() < 0.3 else int(a) for a in chosen)

    def softmax(self, t: Term):
        if t.kind != "f" or t.ndim == 0:
            return None
        t = self.squash(t, -30.0, 30.0)
        axis = int(self.rng.integers(-t.ndim, t.ndim))
        name = self.pick(["softmax", "log_softmax", "logsumexp"])
        if name == "logsumexp":
            axis = self.axes(t.ndim)
            keepdims = bool(self.rng.random() < 0.5)
            var = S.logsumexp(t.var, axis=axis, keepdims=keepdims)
            shape = np.sum(np.zeros(t.shape), axis=axis, keepdims=keepdims).shape
            lo, hi, err = (
                t.lo,
                t.hi + np.log(t.size),
                2 * t.err + 8 * eps(t.dtype) * (t.magnitude + 8),
            )
        elif name == "softmax":
            var, shape, lo, hi = S.nnet.softmax(t.var, axis=axis), t.shape, 0.0, 1.0
            err = 2 * t.err + 8 * eps(t.dtype)
        else:
            var, shape = S.nnet.log_softmax(t.var, axis=axis), t.shape
            lo, hi = t.lo - t.hi - np.log(t.size) - 1, 0.0
            err = 2 * t.err + 8 * eps(t.dtype) * (abs(lo) + 1)
        return self.add(Term(var, shape, lo, hi, err), f"{name}({self.name(t)}, axis={axis})")

    def layout(self, t: Term):
        """A view: transpose or dimshuffle (dropping declared dims of 1, adding 'x')."""
        order = [int(a) for a in self.rng.permutation(t.ndim)]
        static = t.var.type.shape
        keep = [a for a in order if not (static[a] == 1 and self.rng.random() < 0.5)]
        pattern = list(keep)
        for _ in range(int(self.rng.integers(0, 2))):
            pattern.insert(int(self.rng.integers(len(pattern) + 1)), "x")
        if self.rng.random() < 0.3 and t.ndim >= 2:
            var, shape, text = t.var.T, t.shape[::-1], f"{self.name(t)}.T"
        else:
            var = t.var.dimshuffle(*pattern)
            shape = tuple(1 if a == "x" else t.shape[a] for a in pattern)
            text = f"{self.name(t)}.dimshuffle{tuple(pattern)}"
        return self.add(Term(var, shape, t.lo, t.hi, t.err), text)

    def reshape(self, t: Term):
        size = t.size
        dims = [d for d in range(1, size + 1) if size % d == 0]
        first = self.pick(dims)
        shape = self.pick([(size,), (first, size // first), (size // first, 1, first)])
        if self.rng.random() < 0.3 and t.ndim >= 2:
            ndim = int(self.rng.integers(1, t.ndim + 1))
            var, shape = (
                t.var.flatten(ndim),
                t.shape[: ndim - 1] + (int(np.prod(t.shape[ndim - 1 :])),),
            )
            return self.add(Term(var, shape, t.lo, t.hi, t.err), f"{self.name(t)}.flatten({ndim})")
        spelled = list(shape)
        if self.rng.random() < 0.3:
            spelled[int(self.rng.integers(len(spelled)))] = -1
        var = t.var.reshape(tuple(spelled))
        return self.add(
            Term(var, shape, t.lo, t.hi, t.err), f"{self.name(t)}.reshape{tuple(spelled)}"
        )

    def basic_index(self, t: Term):
        if t.ndim == 0:
            return None
        index = tuple(
            self.slice_or_int(d) for d in t.shape[: int(self.rng.integers(1, t.ndim + 1))]
        )
        if self.rng.random() < 0.2:
            index = index + (None,)
        shape = np.zeros(t.shape)[index].shape
        return self.add(
            Term(t.var[index], shape, t.lo, t.hi, t.err), f"{self.name(t)}[{_index_text(index)}]"
        )

    def slice_or_int(self, d: int):
        """A non-empty slice of an axis of length d (any step, negative bounds), or an int."""
        if self.rng.random() < 0.2:
            return int(self.rng.integers(-d, d))
        step = int(self.pick([1, 1, 2, -1, -2, 3]))
        a, b = sorted(int(i) for i in self.rng.integers(0, d + 1, 2))
        a, b = (a, max(b, a + 1)) if a < d else (d - 1, d)
        start, stop = (a, b) if step > 0 else (b - 1, a - 1 if a > 0 else None)
        if start is not None and self.rng.random() < 0.3:
            start -= d
        return slice(start, stop, step)

    def advanced_index(self, t: Term):
        if t.ndim == 0:
            return None
        axis = int(self.rng.integers(min(t.ndim, 2)))
        length = t.shape[axis]
        picks = self.rng.integers(-length, length, int(self.rng.integers(1, 5)))
        if self.rng.random() < 0.5:  # the index as an integer input
            index_var = self.leaf(picks.shape, "int64", -length, length - 1).var
            picks = np.asarray(self.values[-1])
        else:
            index_var = S.constant(picks)
        full = (slice(None),) * axis + (index_var,)
        shape = np.zeros(t.shape)[(slice(None),) * axis + (picks,)].shape
        return self.add(
            Term(t.var[full], shape, t.lo, t.hi, t.err),
            f"{self.name(t)}[{':, ' * axis}{list(picks)}]",
        )

    def set_or_inc(self, t: Term):
        if t.ndim == 0 or t.kind == "b":
            return None
        if self.rng.random() < 0.5:
            index = tuple(
                self.slice_or_int(d) for d in t.shape[: int(self.rng.integers(1, t.ndim + 1))]
            )
            text = _index_text(index)
            picks = None
        else:  # repeated integers: inc_subtensor accumulates, set_subtensor keeps one
            picks = self.rng.integers(-t.shape[0], t.shape[0], int(self.rng.integers(1, 4)))
            index, text = (S.constant(picks),), str(list(picks))
        target_shape = np.zeros(t.shape)[index if picks is None else (picks,)].shape
        value = self.leaf(tuple(d if self.rng.random() < 0.7 else 1 for d in target_shape), t.dtype)
        inc = self.rng.random() < 0.5
        var = (S.inc_subtensor if inc else S.set_subtensor)(t.var[index], value.var)
        repeats = 4 if inc else 1
        lo, hi = min(t.lo, 0) + repeats * value.lo, max(t.hi, 0) + repeats * value.hi
        err = t.err + repeats * eps(t.dtype) * max(abs(lo), abs(hi))
        name = "inc_subtensor" if inc else "set_subtensor"
        return self.add(
            Term(var, t.shape, lo, hi, err), f"{name}({self.name(t)}[{text}], {self.name(value)})"
        )

    def product(self, t: Term):
        """dot, matmul, tensordot, batched_dot or outer with a new input of a fitting shape."""
        if t.kind != "f" or t.ndim == 0 or t.ndim > 3:
            return None
        t = self.squash(t, -3.0, 3.0)
        k, m = t.shape[-1], int(self.rng.integers(1, 5))
        name = self.pick(["dot", "matmul", "tensordot", "outer", "batched_dot"])
        if name == "batched_dot" and t.ndim == 3:
            w = self.leaf((t.shape[0], k, m))
            var, shape = S.batched_dot(t.var, w.var), (t.shape[0], t.shape[1], m)
        elif name == "outer":
            w = self.leaf((m,))
            flat = t.var.flatten() if t.ndim > 1 else t.var
            var, shape, k = S.outer(flat, w.var), (t.size, m), 1
        elif name == "matmul" and t.ndim >= 2:
            w = self.leaf(t.shape[:-2] + (k, m) if self.rng.random() < 0.5 else (k, m))
            var, shape = S.matmul(t.var, w.var), t.shape[:-1] + (m,)
        else:
            w = self.leaf((k, m) if t.ndim <= 2 and self.rng.random() < 0.7 else (k,))
            fn = S.dot if t.ndim <= 2 else (lambda a, b: S.tensordot(a, b, axes=1))
            var, shape, name = (
                fn(t.var, w.var),
                t.shape[:-1] + w.shape[1:],
                "dot" if t.ndim <= 2 else "tensordot",
            )
        bound = k * t.magnitude * w.magnitude
        err = k * (w.magnitude * t.err + 2 * eps(var.dtype) * t.magnitude * w.magnitude) * 2
        return self.add(
            Term(var, shape, -bound, bound, err), f"{name}({self.name(t)}, {self.name(w)})"
        )

    def join(self, t: Term):
        """concatenate or stack t with another term of its shape."""
        if t.kind == "b":
            return None
        u = self.pick([o for o in self.pool if o.shape == t.shape and o.kind != "b"])
        if t.ndim and self.rng.random() < 0.5:
            axis = int(self.rng.integers(-t.ndim, t.ndim))
            var = S.concatenate([t.var, u.var], axis=axis)
            shape = list(t.shape)
            shape[axis] *= 2
            shape, name = tuple(shape), "concatenate"
        else:
            axis = int(self.rng.integers(-t.ndim - 1, t.ndim + 1))
            var, shape, name = (
                S.stack([t.var, u.var], axis),
                np.stack([np.zeros(t.shape)] * 2, axis).shape,
                "stack",
            )
        lo, hi, err = min(t.lo, u.lo), max(t.hi, u.hi), max(t.err, u.err)
        err += eps(var.dtype) * max(abs(lo), abs(hi))  # one of them may be cast
        return self.add(
            Term(var, shape, lo, hi, err), f"{name}([{self.name(t)}, {self.name(u)}], {axis})"
        )

    def broadcast(self, t: Term):
        """broadcast_to a larger shape, or expand_dims."""
        if self.rng.random() < 0.5:
            var, shape = S.expand_dims(t.var, 0), (1,) + t.shape
            return self.add(Term(var, shape, t.lo, t.hi, t.err), f"expand_dims({self.name(t)}, 0)")
        shape = (int(self.rng.integers(1, 4)),) + tuple(
            d if d != 1 else int(self.rng.integers(1, 4)) for d in t.shape
        )
        if any(
            d != 1 and d != e for d, e in zip(t.var.type.shape[::-1], shape[::-1]) if d is not None
        ):
            return None
        var = S.broadcast_to(t.var, shape)
        return self.add(
            Term(var, shape, t.lo, t.hi, t.err), f"broadcast_to({self.name(t)}, {shape})"
        )

    def shrink(self, t: Term) -> Term:
        """t summed over its first axes until it has at most MAX_SIZE elements."""
        while t.size > MAX_SIZE:
            n = t.shape[0]
            err = n * (t.err + n * eps(t.dtype) * t.magnitude)
            var = S.cast(t.var, "int32").sum(axis=0) if t.kind == "b" else t.var.sum(axis=0)
            t = self.add(Term(var, t.shape[1:], n * t.lo, n * t.hi, err), f"{self.name(t)}.sum(0)")
        return t

    # ---- the whole graph ----
    def build(self) -> Graph:
        rank = int(self.rng.choice(4, p=[0.1, 0.3, 0.35, 0.25]))
        base = tuple(int(d) for d in self.rng.integers(1, 5, rank))
        for _ in range(int(self.rng.integers(1, 4))):
            shape = tuple(
                d if self.rng.random() < 0.7 else 1
                for d in base[int(self.rng.integers(rank + 1)) :]
            )
            dtype = self.pick([self.float_dtype] * 4 + ["int32", "int64", "int8"])
            lo, hi = self.pick([(-2.0, 2.0), (0.1, 3.0), (-5.0, 5.0)])
            self.leaf(shape, dtype, lo, hi)
        for _ in range(int(self.rng.integers(3, 10))):
            for _attempt in range(10):
                step = self.pick(STEPS)
                t = self.recent()
                if t.size > MAX_SIZE:
                    t = self.shrink(t)
                if getattr(self, step)(t) is not None:
                    break
        last = self.pool[-1]
        outputs = (
            [last] if last.kind == "f" else [last] + [t for t in self.pool if t.kind == "f"][-1:]
        )
        return Graph(
            self.seed,
            self.inputs,
            self.values,
            outputs=[o.var for o in outputs],
            tolerances=[_tolerance(o) for o in outputs],
            magnitudes=[o.magnitude for o in outputs],
            output_shapes=[o.shape for o in outputs],
            steps=self.steps,
            float_dtype=self.float_dtype,
        )


# step name -> weight: elementwise steps are the most common
STEPS = ["unary"] * 6 + ["binary"] * 5 + ["compare_where", "clip", "cast"] + ["reduce"] * 3 + [
    "softmax", "layout", "layout", "reshape", "basic_index", "advanced_index", "set_or_inc",
    "product", "join", "broadcast",
]  # fmt: skip


def random_graph(seed: int) -> Graph:
    """The graph drawn from `seed`."""
    return GraphBuilder(seed).build()


def _tolerance(t: Term) -> float:
    """Twice the error bound: the device and the oracle may each be off by it."""
    return 2.0 * t.err + 4.0 * eps(t.dtype) * t.magnitude


def _broadcasts(a: tuple, b: tuple) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


def _layout(value) -> str:
    if np.ndim(value) == 0:
        return "scalar"
    if value.strides and 0 in value.strides:
        return "broadcast"
    if value.flags.c_contiguous:
        return "contiguous"
    return "fortran" if value.flags.f_contiguous else f"strides {value.strides}"


def _index_text(index: tuple) -> str:
    def one(i):
        if isinstance(i, slice):
            parts = ["" if v is None else str(v) for v in (i.start, i.stop, i.step)]
            return ":".join(parts)
        return "None" if i is None else str(i)

    return ", ".join(one(i) for i in index)
