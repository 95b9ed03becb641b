"""theano.tensor.signal: pooling (`pool`)."""

from symbolic.compat.theano.tensor.signal import pool

__all__ = ["pool"]
