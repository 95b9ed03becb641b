"""theano.tensor.shared_randomstreams.RandomStreams on S.RandomStream."""

from __future__ import annotations

import symbolic as S
from symbolic.compat.theano._unsupported import unsupported
from symbolic.compat.theano.tensor.constructors import resolve_dtype


class RandomStreams:
    """Theano's RandomStreams: uniform, normal, binomial and multinomial draws; each compiled
    call draws anew, and `seed(s)` restarts every draw of the stream."""

    default_seed = 0

    def __init__(self, seed=None):
        self._stream = S.RandomStream(self.default_seed if seed is None else int(seed))

    def seed(self, seed=None):
        self._stream.seed(self.default_seed if seed is None else int(seed))

    def updates(self):
        return self._stream.updates

    def uniform(self, size=(), low=0.0, high=1.0, ndim=None, dtype=None, nstreams=None):
        return self._stream.uniform(size, low, high, resolve_dtype(dtype))

    def normal(self, size=(), avg=0.0, std=1.0, ndim=None, dtype=None, nstreams=None,
               truncate=False):  # fmt: skip
        if truncate:
            raise unsupported("normal(truncate=True)", "S.clip of a normal draw")
        return self._stream.normal(size, avg, std, resolve_dtype(dtype))

    def binomial(self, size=(), n=1, p=0.5, ndim=None, dtype="int64", prob=None, nstreams=None):
        return self._stream.binomial(size, p if prob is None else prob, n, resolve_dtype(dtype))

    def multinomial(self, size=None, n=1, pvals=None, ndim=None, dtype="int64", nstreams=None):
        """One set of counts per row of pvals (size, if given, must be pvals' shape)."""
        if pvals is None:
            raise unsupported("multinomial without pvals", "rng.multinomial(pvals)")
        return self._stream.multinomial(pvals, n, resolve_dtype(dtype))

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise unsupported(
            f"RandomStreams.{name}",
            "S.RandomStream's uniform, normal, binomial, multinomial (choice: compare a "
            "uniform draw with cumulative probabilities)",
        )
