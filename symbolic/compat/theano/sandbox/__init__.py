"""theano.sandbox: only rng_mrg (MRG_RandomStreams) is mapped."""

from symbolic.compat.theano._unsupported import module_getattr
from symbolic.compat.theano.sandbox import rng_mrg

__all__ = ["rng_mrg"]
__getattr__ = module_getattr("theano.sandbox", {"cuda": "theano.config.device = 'cuda'"})
