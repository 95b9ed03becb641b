"""Steps of random graphs that move values around: transposes and dimshuffles, reshapes,
basic and advanced indexing, set/inc_subtensor, products (dot, matmul, tensordot, batched_dot,
outer), concatenate and stack, broadcast_to and expand_dims.

Each step takes a term of the pool and returns the new term, or None where it does not apply.
"""

from __future__ import annotations

import numpy as np
from terms import Term, eps

import symbolic as S


class ShapeSteps:
    """Mixed into GraphBuilder (random_graphs.py), whose helpers (pick, leaf, ...) these use."""

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


def _index_text(index: tuple) -> str:
    def one(i):
        if isinstance(i, slice):
            parts = ["" if v is None else str(v) for v in (i.start, i.stop, i.step)]
            return ":".join(parts)
        return "None" if i is None else str(i)

    return ", ".join(one(i) for i in index)
