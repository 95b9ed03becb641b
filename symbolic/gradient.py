"""Reverse-mode differentiation: grad, vjp, jacobian, hessian, verify_grad.

One sweep over the nodes in reverse topological order: each node turns its output gradients
into input gradients through its op's `grad` rule, and gradients reaching a variable by several
paths are added up.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from symbolic import dtypes
from symbolic.alloc import ones_like, zeros_like
from symbolic.elemwise import add, cast, where
from symbolic.graph import Constant, Variable, as_variable, constant, tensor, toposort
from symbolic.join import concatenate, stack
from symbolic.op import Op
from symbolic.reduction import sum as total
from symbolic.shape import flatten, reshape, shape_of


@dataclass(frozen=True)
class StopGradient(Op):
    """The identity whose gradient is absent (or zero with `zeros`); with a second input, a
    bool scalar `keep`, the gradient passes where `keep` is true and is zero elsewhere (how a
    loop truncates backpropagation through time). Removed by the optimizer's specialize phase,
    after S.grad has seen it."""

    zeros: bool = False

    @property
    def name(self) -> str:
        return "stop_gradient"

    def infer(self, x, *keep):
        if keep and (keep[0].ndim != 0 or keep[0].dtype != "bool"):
            raise TypeError(f"stop_gradient: keep must be a bool scalar, got {keep[0].describe()}")
        return [x.type]

    def perform(self, x, *keep):
        return x.copy()  # a fresh output, as every op's (outputs never alias inputs)

    def grad(self, inputs, outputs, output_grads):
        if len(inputs) == 2:
            return [where(inputs[1], output_grads[0], 0), None]
        return [zeros_like(inputs[0]) if self.zeros else None]


def stop_gradient(x, zeros: bool = False, keep=None) -> Variable:
    """x, through which no gradient flows: `S.grad` treats this use of x as a constant.

    With `zeros=False` a variable reached only through it is disconnected from the cost (as
    Theano's disconnected_grad); with `zeros=True` its gradient is zero instead (Theano's
    zero_grad), so `S.grad` finds it connected. With `keep` (a bool scalar tensor) the
    gradient passes unchanged where `keep` is true and is zero where it is false.
    """
    x = as_variable(x)
    return StopGradient(bool(zeros))(x) if keep is None else StopGradient()(x, keep)


def _as_list(wrt) -> tuple[list, bool]:
    return (list(wrt), True) if isinstance(wrt, (list, tuple)) else ([wrt], False)


def _check_differentiable(wrt: list[Variable]) -> None:
    for v in wrt:
        if not isinstance(v, Variable):
            raise TypeError(f"can only differentiate with respect to variables, got {v!r}")
        if not dtypes.is_float(v.dtype):
            raise TypeError(
                f"cannot differentiate with respect to {v.describe()}: integer and "
                "bool variables have no gradient"
            )


def backprop(seeds: dict, wrt: list[Variable], consider_constant=(), disconnected="raise"):
    """Gradients of Σ <output, seed> for each variable in `wrt` (None where disconnected)."""
    if disconnected not in ("raise", "warn", "ignore"):
        raise ValueError(f'disconnected must be "raise", "warn" or "ignore", not {disconnected!r}')
    outputs = list(seeds)
    blocked = {id(v) for v in consider_constant or ()}
    order = toposort(outputs, stop=[v for v in consider_constant or ()])
    # only nodes on a path from some wrt variable need gradients
    reaches = {id(v) for v in wrt}
    for node in order:
        if any(id(i) in reaches for i in node.inputs):
            reaches.update(id(o) for o in node.outputs if id(o) not in blocked)
    grads: dict[int, Variable] = {id(k): v for k, v in seeds.items()}
    for node in reversed(order):
        output_grads = [grads.get(id(o)) for o in node.outputs]
        if all(g is None for g in output_grads):
            continue
        if not any(id(i) in reaches for i in node.inputs):
            continue
        output_grads = [
            zeros_like(o) if g is None else g for o, g in zip(node.outputs, output_grads)
        ]
        try:
            input_grads = node.op.grad(node.inputs, node.outputs, output_grads)
        except NotImplementedError as e:
            where = f" (built at {node.location})" if node.location else ""
            raise NotImplementedError(f"{e}{where}") from None
        for x, g in zip(node.inputs, input_grads):
            if g is None or id(x) not in reaches or not dtypes.is_float(x.dtype):
                continue
            g = cast(g, x.dtype)
            grads[id(x)] = g if id(x) not in grads else add(grads[id(x)], g)
    result = []
    for v in wrt:
        g = grads.get(id(v))
        if g is None:
            message = f"the cost does not depend on {v.describe()}"
            if disconnected == "raise":
                raise ValueError(message + ' (pass disconnected="ignore" to get zeros)')
            if disconnected == "warn":
                warnings.warn(message, stacklevel=3)
            g = zeros_like(v)
        result.append(g)
    return result


def grad(cost, wrt, consider_constant=None, disconnected: str = "raise"):
    """The gradient of the scalar `cost` with respect to `wrt` (a variable or a list of them).

    Returns graphs, with the same structure as `wrt`: they can be compiled or differentiated
    again. Variables in `consider_constant` are treated as constants (no gradient through them).
    """
    if not isinstance(cost, Variable) or cost.ndim != 0:
        raise TypeError(
            f"grad needs a scalar cost, got {getattr(cost, 'type', cost)}; "
            "reduce it (e.g. .sum() or .mean()) or use S.vjp"
        )
    if not dtypes.is_float(cost.dtype):
        raise TypeError(f"grad needs a float cost, got {cost.describe()}")
    wrt_list, is_list = _as_list(wrt)
    _check_differentiable(wrt_list)
    if not consider_constant:
        (cost,) = _stable_form([cost], wrt_list)
    out = backprop({cost: ones_like(cost)}, wrt_list, consider_constant, disconnected)
    return out if is_list else out[0]


def _stable_form(outputs: list[Variable], wrt: list[Variable]) -> list[Variable]:
    """The outputs after the optimizer's phases up to stabilize, so that differentiating a
    naive formula (log(sigmoid(x)), log(sum(exp(x)))) differentiates its stable form. Only
    where every wrt variable is a graph input, which rewriting never replaces."""
    from symbolic.optimizer.phases import stabilize_graph

    if any(v.owner is not None or isinstance(v, Constant) for v in wrt):
        return outputs
    return stabilize_graph(outputs)


def vjp(outputs, wrt, cotangents, disconnected: str = "ignore"):
    """Σ_k cotangents[k] · ∂outputs[k]/∂wrt: the vector–Jacobian product, one per wrt."""
    outputs, _ = _as_list(outputs)
    cotangents, _ = _as_list(cotangents)
    wrt_list, is_list = _as_list(wrt)
    _check_differentiable(wrt_list)
    if len(outputs) != len(cotangents):
        raise ValueError(f"vjp: {len(outputs)} outputs but {len(cotangents)} cotangents")
    outputs = _stable_form(outputs, wrt_list)
    seeds = {o: cast(c, o.dtype) for o, c in zip(outputs, cotangents)}
    out = backprop(seeds, wrt_list, (), disconnected)
    return out if is_list else out[0]


def jacobian(expr, wrt, disconnected: str = "raise"):
    """∂expr_i/∂wrt, of shape expr.shape + wrt.shape; expr's size must be known at build time."""
    wrt_list, is_list = _as_list(wrt)
    flat = flatten(expr) if expr.ndim != 1 else expr
    n = flat.type.shape[0]
    if n is None:
        raise ValueError(
            f"jacobian needs the size of {expr.describe()} at build time; give "
            "the inputs static shapes, e.g. S.tensor('x', shape=(3,))"
        )
    rows = [grad(flat[i], wrt_list, disconnected=disconnected) for i in range(n)]
    out = []
    for k, v in enumerate(wrt_list):
        stacked = stack([r[k] for r in rows], 0)
        out.append(
            reshape(stacked, concatenate([shape_of(expr), shape_of(v)]))
            if expr.ndim != 1
            else stacked
        )
    return out if is_list else out[0]


def hessian(cost, wrt, disconnected: str = "raise"):
    """The matrix of second derivatives of the scalar cost (jacobian of its gradient)."""
    wrt_list, is_list = _as_list(wrt)
    out = [
        jacobian(grad(cost, v, disconnected=disconnected), v, disconnected="ignore")
        for v in wrt_list
    ]
    return out if is_list else out[0]


class GradientError(AssertionError):
    """Raised by verify_grad when analytic and numeric gradients disagree."""


def verify_grad(
    fn, points: Sequence[np.ndarray], eps: float | None = None, rtol: float | None = None, rng=None
) -> None:
    """Check S.grad of `fn` against central finite differences at `points`.

    `fn` maps symbolic tensors (one per point) to a tensor; the check differentiates the random
    projection Σ fn(x)·r, whose derivative is exact in both methods up to the differencing error
    O(eps²). Raises GradientError naming the input and the position that disagree.
    """
    from symbolic.compiler import compile

    rng = rng if rng is not None else np.random.default_rng(42)
    points = [
        np.array(p, dtype=p.dtype if p.dtype.kind == "f" else np.float64)
        for p in map(np.asarray, points)
    ]
    low = any(p.dtype == np.float32 for p in points)
    eps = eps if eps is not None else (1e-2 if low else 1e-6)
    rtol = rtol if rtol is not None else (1e-2 if low else 1e-5)
    inputs = [tensor(f"x{i}", p.dtype, p.shape) for i, p in enumerate(points)]
    out = fn(*inputs)
    out_shape = compile(inputs, out, device="numpy")(*points).shape
    cost = total(out * constant(rng.standard_normal(out_shape).astype(out.dtype)))
    f = compile(inputs, cost, device="numpy")
    analytic = compile(inputs, grad(cost, inputs), device="numpy")(*points)
    for k, p in enumerate(points):
        numeric = np.zeros(p.shape)
        for i in np.ndindex(p.shape):
            plus, minus = list(points), list(points)
            plus[k], minus[k] = p.copy(), p.copy()
            plus[k][i] += eps
            minus[k][i] -= eps
            numeric[i] = (float(f(*plus)) - float(f(*minus))) / (2 * eps)
        excess = np.abs(analytic[k] - numeric) - rtol * (1 + np.abs(numeric))
        if np.any(excess > 0):
            at = np.unravel_index(np.argmax(excess), p.shape)
            raise GradientError(
                f"verify_grad: the gradient for input {k} (shape {p.shape}) disagrees at index "
                f"{at}: analytic {analytic[k][at]:.6g}, finite differences {numeric[at]:.6g}"
            )
