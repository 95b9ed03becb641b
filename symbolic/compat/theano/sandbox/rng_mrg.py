"""theano.sandbox.rng_mrg.MRG_RandomStreams: the same draws as RandomStreams (S.RandomStream);
the generator differs from Theano's MRG31k3p, so values differ from Theano's for one seed."""

from __future__ import annotations

from symbolic.compat.theano.tensor.shared_randomstreams import RandomStreams


class MRG_RandomStreams(RandomStreams):  # noqa: N801 - Theano's name
    default_seed = 12345
