"""theano.gradient: grad, verify_grad, jacobian, hessian, Lop, disconnected_grad, zero_grad."""

from __future__ import annotations

import symbolic as S
from symbolic.compat.theano._unsupported import module_getattr, reject


def grad(
    cost,
    wrt,
    consider_constant=None,
    disconnected_inputs="raise",
    add_names=True,
    known_grads=None,
    return_disconnected="zero",
    null_gradients="raise",
):
    """theano.grad → S.grad (a disconnected input gets zeros under "ignore" or "warn")."""
    reject("theano.grad", "S.vjp(outputs, wrt, cotangents)", known_grads=(known_grads, None))
    reject("theano.grad", "S.grad", return_disconnected=(return_disconnected, "zero"))
    return S.grad(cost, wrt, consider_constant, disconnected_inputs)


def verify_grad(fun, pt, n_tests=2, rng=None, eps=None, out_type=None, abs_tol=None,
                rel_tol=None, mode=None, cast_to_output_type=False, no_debug_ref=True):  # fmt: skip
    """theano.gradient.verify_grad → S.verify_grad (one random projection per call)."""
    for _ in range(n_tests):
        S.verify_grad(fun, pt, eps, rel_tol, rng)


def jacobian(expression, wrt, consider_constant=None, disconnected_inputs="raise"):
    reject("theano.gradient.jacobian", "S.jacobian", consider_constant=(consider_constant, None))
    return S.jacobian(expression, wrt, disconnected_inputs)


def hessian(cost, wrt, consider_constant=None, disconnected_inputs="raise"):
    reject("theano.gradient.hessian", "S.hessian", consider_constant=(consider_constant, None))
    return S.hessian(cost, wrt, disconnected_inputs)


def Lop(f, wrt, eval_points, consider_constant=None, disconnected_inputs="raise"):
    """The vector–Jacobian product → S.vjp."""
    reject("theano.gradient.Lop", "S.vjp", consider_constant=(consider_constant, None))
    return S.vjp(f, wrt, eval_points, disconnected_inputs)


def disconnected_grad(x):
    """x with no gradient through it → S.stop_gradient(x)."""
    return S.stop_gradient(x)


def zero_grad(x):
    """x whose gradient is zero → S.stop_gradient(x, zeros=True)."""
    return S.stop_gradient(x, zeros=True)


consider_constant = disconnected_grad

__getattr__ = module_getattr(
    "theano.gradient", {"Rop": "S.vjp (reverse mode only)", "grad_clip": "S.clip on the gradient"}
)
