"""NumPy-like operators and methods of symbolic tensors.

`==` is left as Python identity (as in Theano) so variables stay usable as dict keys; the
elementwise comparison is `S.eq`.

Truth value (Theano's rule): every variable is true in `if x:`, so `if W:` and `x or default`
work as for any Python object, except the result of a comparison (`<`, `<=`, `>`, `>=`, `S.eq`,
`S.neq`), whose truth is not known when the graph is built: `bool(a < b)` raises, and so does
the chain `a < b < c`, which Python evaluates as `(a < b) and (b < c)`. The functions are looked up on the package at call time, when
it is fully imported.
"""

from __future__ import annotations

import symbolic as S

COMPARISONS = frozenset({"lt", "le", "gt", "ge", "eq", "neq"})  # results with no truth value


class TensorOperators:
    __slots__ = ()

    # arithmetic (Python numbers on either side are weakly typed)
    def __add__(self, other):
        return S.add(self, other)

    def __radd__(self, other):
        return S.add(other, self)

    def __sub__(self, other):
        return S.sub(self, other)

    def __rsub__(self, other):
        return S.sub(other, self)

    def __mul__(self, other):
        return S.mul(self, other)

    def __rmul__(self, other):
        return S.mul(other, self)

    def __truediv__(self, other):
        return S.true_div(self, other)

    def __rtruediv__(self, other):
        return S.true_div(other, self)

    def __floordiv__(self, other):
        return S.floor_div(self, other)

    def __rfloordiv__(self, other):
        return S.floor_div(other, self)

    def __mod__(self, other):
        return S.mod(self, other)

    def __rmod__(self, other):
        return S.mod(other, self)

    def __pow__(self, other):
        return S.pow(self, other)

    def __rpow__(self, other):
        return S.pow(other, self)

    def __matmul__(self, other):
        return S.matmul(self, other)

    def __rmatmul__(self, other):
        return S.matmul(other, self)

    def __neg__(self):
        return S.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return S.abs(self)

    # comparisons and logic
    def __lt__(self, other):
        return S.lt(self, other)

    def __le__(self, other):
        return S.le(self, other)

    def __gt__(self, other):
        return S.gt(self, other)

    def __ge__(self, other):
        return S.ge(self, other)

    def __and__(self, other):
        return S.and_(self, other)

    def __rand__(self, other):
        return S.and_(other, self)

    def __or__(self, other):
        return S.or_(self, other)

    def __ror__(self, other):
        return S.or_(other, self)

    def __invert__(self):
        return S.invert(self)

    def __bool__(self):
        node = self.owner
        if node is not None and node.op.name in COMPARISONS:
            raise TypeError(
                "a comparison of symbolic tensors has no truth value while the graph is built "
                "(a chain `a < b < c` needs one): use S.where, S.all, S.any, or `&` to join "
                "comparisons"
            )
        return True

    def __iter__(self):
        raise TypeError("a symbolic tensor cannot be iterated; index it or use S.scan")

    def __len__(self):
        raise TypeError("a symbolic tensor has no len(); use x.shape[0]")

    # indexing and shape
    def __getitem__(self, key):
        node = self.owner
        if node is not None and isinstance(node.op, S.shape.Shape) and isinstance(key, int):
            return S.shape.dim(node.inputs[0], key)  # x.shape[i]: static when known
        return S.indexing.getitem(self, key)

    @property
    def shape(self):
        return S.shape.shape_of(self)

    @property
    def T(self):
        return S.transpose(self)

    @property
    def size(self):
        return S.shape.Size(tuple(range(self.ndim)))(self)

    def reshape(self, *shape):
        return S.reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes):
        return S.transpose(self, (axes[0] if len(axes) == 1 else axes) or None)

    def dimshuffle(self, *order):
        return S.dimshuffle(self, *order)

    def flatten(self, ndim=1):
        return S.flatten(self, ndim)

    def astype(self, dtype):
        return S.cast(self, dtype)

    def dot(self, other):
        return S.dot(self, other)

    # reductions
    def sum(self, axis=None, keepdims=False, dtype=None, acc_dtype=None):
        return S.sum(self, axis, keepdims, dtype, acc_dtype)

    def prod(self, axis=None, keepdims=False, dtype=None, acc_dtype=None):
        return S.prod(self, axis, keepdims, dtype, acc_dtype)

    def mean(self, axis=None, keepdims=False, dtype=None, acc_dtype=None):
        return S.mean(self, axis, keepdims, dtype, acc_dtype)

    def max(self, axis=None, keepdims=False):
        return S.max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return S.min(self, axis, keepdims)

    def argmax(self, axis=None, keepdims=False):
        return S.argmax(self, axis, keepdims)

    def argmin(self, axis=None, keepdims=False):
        return S.argmin(self, axis, keepdims)

    def all(self, axis=None, keepdims=False):
        return S.all(self, axis, keepdims)

    def any(self, axis=None, keepdims=False):
        return S.any(self, axis, keepdims)

    def var(self, axis=None, keepdims=False, ddof=0, dtype=None):
        return S.var(self, axis, keepdims, ddof, dtype)

    def std(self, axis=None, keepdims=False, ddof=0, dtype=None):
        return S.std(self, axis, keepdims, ddof, dtype)
