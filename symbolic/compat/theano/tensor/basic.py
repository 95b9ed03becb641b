"""theano.tensor's functions: elementwise math, reductions, shapes, joins, indexing, casts.

Functions with the same name and meaning in symbolic are taken as they are (SAME); the rest
map Theano's spelling or argument order onto symbolic's, one line each.
"""

from __future__ import annotations

import symbolic as S
from symbolic.compat.theano._unsupported import reject, unsupported
from symbolic.compat.theano.tensor.constructors import resolve_dtype
from symbolic.graph import as_variable

# the same name and meaning in both
SAME = """exp exp2 log log1p log2 log10 expm1 sqrt tanh sin cos tan arcsin arccos arctan sinh cosh
arctanh erf erfc floor ceil maximum minimum clip pow dot outer tensordot batched_dot
concatenate set_subtensor inc_subtensor transpose eq neq lt gt le ge and_ or_ invert isnan
isinf sigmoid softplus square mod sub neg""".split()

# Theano name -> symbolic name
RENAMED = {
    "sqr": "square",
    "abs_": "abs",
    "sgn": "sign",
    "switch": "where",
    "where": "where",
    "true_div": "true_div",
    "int_div": "floor_div",
    "floor_div": "floor_div",
    "inv": "reciprocal",
    "bitwise_and": "and_",
    "bitwise_or": "or_",
    "bitwise_not": "invert",
}


def add(*terms):
    """Theano's variadic add."""
    total = terms[0]
    for t in terms[1:]:
        total = S.add(total, t)
    return total


def mul(*factors):
    """Theano's variadic mul."""
    product = factors[0]
    for f in factors[1:]:
        product = S.mul(product, f)
    return product


def cast(x, dtype):
    return S.cast(x, resolve_dtype(dtype))


def round(a, mode=None):  # noqa: A001 - Theano's name
    """round(a, mode="half_to_even") → S.round (NumPy's rounding)."""
    if mode != "half_to_even":
        raise unsupported(f"theano.tensor.round(mode={mode!r})", 'S.round (mode="half_to_even")')
    return S.round(a)


# ---- reductions, in Theano's argument order --------------------------------------------------


def sum(input, axis=None, dtype=None, keepdims=False, acc_dtype=None):  # noqa: A001
    return S.sum(input, axis, keepdims, dtype, acc_dtype)


def prod(input, axis=None, dtype=None, keepdims=False, acc_dtype=None, no_zeros_in_input=False):
    return S.prod(input, axis, keepdims, dtype, acc_dtype)


def mean(input, axis=None, dtype=None, op=False, keepdims=False, acc_dtype=None):
    reject("theano.tensor.mean", "S.mean", op=(op, False))
    return S.mean(input, axis, keepdims, dtype, acc_dtype)


def var(input, axis=None, ddof=0, keepdims=False, corrected=False):
    reject("theano.tensor.var", "S.var(x, ddof=1)", corrected=(corrected, False))
    return S.var(input, axis, keepdims, ddof)


def std(input, axis=None, ddof=0, keepdims=False, corrected=False):
    reject("theano.tensor.std", "S.std(x, ddof=1)", corrected=(corrected, False))
    return S.std(input, axis, keepdims, ddof)


# the same argument order as Theano's
max, min, argmax, argmin, all, any = S.max, S.min, S.argmax, S.argmin, S.all, S.any  # noqa: A001


def max_and_argmax(a, axis=None, keepdims=False):
    return S.max(a, axis, keepdims), S.argmax(a, axis, keepdims)


# ---- shapes, joins, allocation -----------------------------------------------------------------


def shape(x):
    return as_variable(x).shape


def reshape(x, newshape, ndim=None):
    return S.reshape(x, newshape)


def flatten(x, outdim=1, ndim=None):
    return S.flatten(x, ndim or outdim)


def shape_padleft(t, n_ones=1):
    return S.expand_dims(t, tuple(range(n_ones)))


def shape_padright(t, n_ones=1):
    return S.expand_dims(t, tuple(range(t.ndim, t.ndim + n_ones)))


def shape_padaxis(t, axis):
    return S.expand_dims(t, axis)


def stack(*tensors, axis=0):
    """stack(a, b, …) or stack([a, b, …], axis)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    return S.stack(list(tensors), axis)


def join(axis, *tensors):
    return S.concatenate(list(tensors), axis)


def zeros(shape, dtype=None):
    return S.zeros(shape, resolve_dtype(dtype))


def ones(shape, dtype=None):
    return S.ones(shape, resolve_dtype(dtype))


def zeros_like(model, dtype=None):
    return S.zeros_like(model, dtype)


def ones_like(model, dtype=None):
    return S.ones_like(model, dtype)


def alloc(value, *shape):
    return S.alloc(value, *shape)


def arange(start, stop=None, step=1, dtype=None):
    return S.arange(start, stop, step, dtype)


def eye(n, m=None, k=0, dtype=None):
    return S.eye(n, m, k, resolve_dtype(dtype))


def constant(x, name=None, ndim=None, dtype=None):
    return S.constant(x, dtype, name)


def as_tensor_variable(x, name=None, ndim=None):
    return x if isinstance(x, S.Variable) else S.constant(x, name=name)


def grad(cost, wrt, consider_constant=None, disconnected_inputs="raise", **kwargs):
    from symbolic.compat.theano.gradient import grad as theano_grad

    return theano_grad(cost, wrt, consider_constant, disconnected_inputs, **kwargs)


def jacobian(expression, wrt, consider_constant=None, disconnected_inputs="raise"):
    from symbolic.compat.theano.gradient import jacobian as theano_jacobian

    return theano_jacobian(expression, wrt, consider_constant, disconnected_inputs)


def hessian(cost, wrt, consider_constant=None, disconnected_inputs="raise"):
    from symbolic.compat.theano.gradient import hessian as theano_hessian

    return theano_hessian(cost, wrt, consider_constant, disconnected_inputs)


def functions() -> dict:
    """Every function of this module by its Theano name."""
    found = {name: getattr(S, name) for name in SAME}
    found.update((theano, getattr(S, ours)) for theano, ours in RENAMED.items())
    local = globals()
    for name in """add mul cast round sum prod mean var std max min argmax argmin max_and_argmax
    all any shape reshape flatten shape_padleft shape_padright shape_padaxis stack join zeros
    ones zeros_like ones_like alloc arange eye constant as_tensor_variable grad jacobian
    hessian""".split():
        found[name] = local[name]
    return found
