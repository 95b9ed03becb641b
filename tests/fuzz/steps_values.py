"""Steps of random graphs that compute values: elementwise ops, comparisons and where, clip,
casts, reductions with every axis form, softmax and logsumexp.

Each step takes a term of the pool and returns the new term (added to the pool, with its value
interval and error bound: see terms.py), or None where it does not apply.
"""

from __future__ import annotations

import numpy as np
from elementwise_table import BINARY, COMPARISONS, UNARY
from terms import Term, eps, image, reduced_count

import symbolic as S


class ValueSteps:
    """Mixed into GraphBuilder (random_graphs.py), whose helpers (pick, leaf, squash, ...)
    these use."""

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
        # the logical ops, on conditions whose values they do not change (t is finite)
        logic = self.pick(["", "~~", "| isnan", "& ~isinf"])
        cond = {
            "": cond,
            "~~": ~~cond,
            "| isnan": cond | S.isnan(t.var),
            "& ~isinf": cond & ~S.isinf(t.var),
        }[logic]
        condition = f"{compare.__name__}({self.name(t)}, {threshold}) {logic}".strip()
        u = self.partner(t.shape)
        var = S.where(cond, t.var, u.var)
        shape = np.broadcast_shapes(t.shape, u.shape)
        if self.rng.random() < 0.3:  # the condition itself as the result, or reduced
            var, lo, hi = cond, 0.0, 1.0
            shape = t.shape
            if self.rng.random() < 0.5 and t.ndim:
                var = self.pick([S.all, S.any])(cond, axis=-1)
                shape = t.shape[:-1]
            return self.add(Term(var, shape, lo, hi), condition)
        err = max(t.err, u.err)
        lo, hi = min(t.lo, u.lo), max(t.hi, u.hi)
        text = f"where({condition}, {self.name(t)}, {self.name(u)})"
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
