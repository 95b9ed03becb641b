"""symbolic: build tensor expressions, differentiate them, compile them into fast functions.

import symbolic as S
x = S.matrix("x")
f = S.compile([x], S.exp(x).sum())
"""

from symbolic import distributed, nnet
from symbolic.alloc import (
    alloc,
    arange,
    broadcast_to,
    eye,
    full,
    one_hot,
    ones,
    ones_like,
    sum_to,
    zeros,
    zeros_like,
)
from symbolic.compiler import compile
from symbolic.draw import draw
from symbolic.elemwise import (
    abs,
    add,
    and_,
    arccos,
    arcsin,
    arctan,
    arctanh,
    cast,
    ceil,
    clip,
    cos,
    cosh,
    eq,
    erf,
    erfc,
    exp,
    exp2,
    expm1,
    floor,
    floor_div,
    ge,
    gt,
    invert,
    isinf,
    isnan,
    le,
    log,
    log1mexp,
    log1p,
    log2,
    log10,
    lt,
    maximum,
    minimum,
    mod,
    mul,
    neg,
    neq,
    or_,
    pow,
    reciprocal,
    round,
    sigmoid,
    sign,
    sin,
    sinh,
    softplus,
    sqrt,
    square,
    sub,
    tan,
    tanh,
    true_div,
    where,
)
from symbolic.gradient import (
    GradientError,
    grad,
    hessian,
    jacobian,
    stop_gradient,
    verify_grad,
    vjp,
)
from symbolic.graph import (
    Constant,
    SharedVariable,
    TensorType,
    Variable,
    constant,
    matrix,
    scalar,
    shared,
    tensor,
    tensor3,
    tensor4,
    vector,
)
from symbolic.indexing import inc_subtensor, set_subtensor
from symbolic.inputs import In
from symbolic.join import concatenate, stack
from symbolic.linalg import batched_dot, dot, matmul, outer, tensordot
from symbolic.optimizer.phases import optimize
from symbolic.printing import debugprint
from symbolic.random import RandomStream
from symbolic.reduction import (
    all,
    any,
    argmax,
    argmin,
    logsumexp,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from symbolic.scan import scan
from symbolic.shape import dimshuffle, expand_dims, flatten, reshape, squeeze, transpose

__version__ = "0.1.0"
