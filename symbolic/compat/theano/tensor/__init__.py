"""theano.tensor (`import theano.tensor as T`): constructors, math, shapes, nnet, signal,
shared_randomstreams. Names Theano has and this layer lacks raise NotImplementedError."""

from __future__ import annotations

import symbolic as S
from symbolic.compat.theano._unsupported import module_getattr
from symbolic.compat.theano.tensor import nnet, shared_randomstreams, signal
from symbolic.compat.theano.tensor.basic import functions
from symbolic.compat.theano.tensor.constructors import CONSTRUCTORS, TensorType

globals().update(CONSTRUCTORS)
globals().update(functions())

TensorVariable = TensorConstant = S.Variable
TensorSharedVariable = S.SharedVariable

__all__ = ["TensorType", "nnet", "signal", "shared_randomstreams", *CONSTRUCTORS, *functions()]

__getattr__ = module_getattr(
    "theano.tensor",
    {
        "addbroadcast": "a static shape of 1: S.tensor(name, dtype, shape=(…, 1, …))",
        "unbroadcast": "a static shape of None on that axis",
        "patternbroadcast": "S.tensor(name, dtype, shape) with 1 on broadcastable axes",
        "cumsum": "S.dot with a triangular matrix of ones",
        "sort": "none",
        "argsort": "none",
        "tile": "S.broadcast_to and S.reshape",
        "repeat": "S.broadcast_to and S.reshape",
        "roll": "S.concatenate of two slices",
        "Rop": "S.vjp (reverse mode only)",
        "Lop": "S.vjp",
        "fill": "S.full(x.shape, value)",
        "second": "S.full(x.shape, value)",
        "extra_ops": "none",
    },
)
