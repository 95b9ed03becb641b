"""Collectives as graph ops: allreduce, allgather, broadcast, and the two ops their gradients
need (reduce to a root, reduce-scatter). Each has its type rule, its NumPy reference (a
blocking MPI call on host arrays, the identity in a single process: runtime/distributed/mpi.py)
and its gradient.

Gradients follow the data-parallel convention: the cost being differentiated is the sum of
every rank's cost, so each rank's gradient holds the contributions of all ranks. The pairs
are transposes of each other: allreduce-sum ↔ allreduce-sum, allgather ↔ reduce-scatter,
broadcast ↔ reduce.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from symbolic import dtypes
from symbolic.elemwise import eq, where
from symbolic.graph import TensorType, constant
from symbolic.op import Op
from symbolic.shape import dim

REDUCTIONS = ("sum", "mean", "max", "min")
DEFAULT_BUCKET_BYTES = 25 * 2**20  # gradients coalesced per all-reduce, as PyTorch's DDP


def peers():
    """The MPI world when this process has peers, else None (every collective is then the
    identity)."""
    from runtime.distributed.mpi import world

    w = world()
    return None if w is None or w.size == 1 else w


def shapes_text(arrays) -> str:
    return ", ".join(f"{a.dtype}{list(a.shape)}" for a in arrays)


def check_mean_dtype(x) -> None:
    if not dtypes.is_float(x.dtype):
        raise TypeError(f"allreduce mean needs float tensors; got {x.describe()}")


class Collective(Op):
    """An op that talks to the other ranks: never folded into a constant at compile time."""

    communicates: ClassVar[bool] = True


@dataclass(frozen=True)
class Allreduce(Collective):
    """Each input reduced elementwise over every rank; a list of inputs is one op, carried out
    as one message per dtype. `bucket_bytes` > 0 lets the runtime coalesce it with the
    function's other all-reduces and overlap it with compute (runtime/collectives.py); 0
    runs it where it stands, blocking."""

    reduce: str
    bucket_bytes: int = DEFAULT_BUCKET_BYTES

    @property
    def name(self) -> str:
        return f"allreduce_{self.reduce}"

    def infer(self, *xs):
        if self.reduce not in REDUCTIONS:
            raise ValueError(f"allreduce: op must be one of {REDUCTIONS}, got {self.reduce!r}")
        for x in xs:
            if self.reduce == "mean":
                check_mean_dtype(x)
            if x.dtype == "bool":
                raise TypeError(f"allreduce: cast bool tensors to a number first: {x.describe()}")
        return [x.type for x in xs]

    def perform(self, *arrays):
        w = peers()
        results = list(arrays) if w is None else self._reduce_over(w, arrays)
        return results[0] if len(results) == 1 else results

    def _reduce_over(self, w, arrays) -> list[np.ndarray]:
        what = f"{self.name} of {shapes_text(arrays)}"
        w.check_signature(what, what)
        results: list = [None] * len(arrays)
        for dtype in dict.fromkeys(a.dtype for a in arrays):  # one message per dtype, in order
            members = [i for i, a in enumerate(arrays) if a.dtype == dtype]
            buffer = np.concatenate([arrays[i].ravel() for i in members])
            w.wait([w.allreduce(buffer, "sum" if self.reduce == "mean" else self.reduce)], what)
            if self.reduce == "mean":
                buffer /= buffer.dtype.type(w.size)
            offset = 0
            for i in members:
                results[i] = buffer[offset : offset + arrays[i].size].reshape(arrays[i].shape)
                offset += arrays[i].size
        return results

    def grad(self, inputs, outputs, output_grads):
        if self.reduce in ("sum", "mean"):  # d(Σ_r x_r)/dx_r = 1: every rank's cotangent
            grads = Allreduce(self.reduce, self.bucket_bytes)(*output_grads)
            return grads if len(inputs) > 1 else [grads]
        return [
            route_to_holder(x, y, g, self.bucket_bytes)
            for x, y, g in zip(inputs, outputs, output_grads)
        ]


@dataclass(frozen=True)
class OneOverSize(Op):
    """1 / the number of ranks, a 0-d tensor of `dtype` read at run time (a function, pickled
    or not, keeps working on any number of ranks). `allreduce(x, "mean")` is the sum times it:
    a product the fusion pass merges into the kernel that reads the mean, where a division of
    its own would be one more pass over the reduced memory. It reads no tensor, so a device
    moves nothing for it, and a node without inputs is never folded into a constant."""

    dtype: str

    @property
    def name(self) -> str:
        return "one_over_size"

    def infer(self):
        return [TensorType(self.dtype, ())]

    def perform(self):
        return np.asarray(1 / _group_size(), self.dtype)

    def grad(self, inputs, outputs, output_grads):
        return []  # a constant of the run, of nothing


def route_to_holder(x, y, g, bucket_bytes: int):
    """x's gradient through y = max (or min) over ranks: each element's summed cotangent goes
    to the lowest rank whose x holds the extreme value, zero to the others (ties go to one
    rank, so the gradient is a subgradient, as for S.max)."""
    from symbolic.distributed.group import rank, size

    holder = where(eq(x, y), constant(rank(), "int32"), constant(size(), "int32"))
    lowest = Allreduce("min", bucket_bytes)(holder)
    total = Allreduce("sum", bucket_bytes)(g)
    return where(eq(lowest, constant(rank(), "int32")), total, 0)


@dataclass(frozen=True)
class Allgather(Collective):
    """Every rank's x joined along `axis`, in rank order; the ranks may hold different
    lengths along that axis, the same elsewhere."""

    axis: int

    @property
    def name(self) -> str:
        return "allgather"

    def infer(self, x):
        shape = list(x.type.shape)
        if not 0 <= self.axis < x.ndim:
            raise ValueError(f"allgather: axis {self.axis} is out of range for {x.describe()}")
        if _group_size() > 1:
            shape[self.axis] = None
        return [TensorType(x.dtype, tuple(shape))]

    def perform(self, x):
        w = peers()
        if w is None:
            return x
        rows = np.ascontiguousarray(np.moveaxis(x, self.axis, 0))
        what = f"allgather on axis {self.axis} of {x.dtype}{list(rows.shape[1:])} rows"
        w.check_signature(what, what)
        return np.moveaxis(w.allgather_rows(rows, what), 0, self.axis)

    def grad(self, inputs, outputs, output_grads):
        (x,) = inputs
        return [ReduceScatter(self.axis)(output_grads[0], dim(x, self.axis))]


@dataclass(frozen=True)
class ReduceScatter(Collective):
    """g summed over every rank, then this rank's part along `axis`: `length` items after
    the lengths of the ranks before it (allgather's gradient)."""

    axis: int

    @property
    def name(self) -> str:
        return "reduce_scatter"

    def infer(self, g, length):
        shape = list(g.type.shape)
        shape[self.axis] = None
        return [TensorType(g.dtype, tuple(shape))]

    def perform(self, g, length):
        w = peers()
        if w is None:
            return g
        what = f"reduce_scatter on axis {self.axis} of {shapes_text([g])}"
        w.check_signature(what, what)
        total = np.ascontiguousarray(g).copy()
        w.wait([w.allreduce(total, "sum")], what)
        lengths = w.gather_counts(int(length), what)
        start = int(lengths[: w.rank].sum())
        index = (slice(None),) * self.axis + (slice(start, start + int(length)),)
        return total[index]

    def grad(self, inputs, outputs, output_grads):
        return [Allgather(self.axis)(output_grads[0]), None]


@dataclass(frozen=True)
class Rooted(Collective):
    """A collective with a root rank, whose output has its input's type."""

    root: int

    def infer(self, x):
        return [x.type]

    def perform(self, x):
        w = peers()
        if w is None:
            return x
        what = f"{self.name} of {shapes_text([x])}"
        w.check_signature(what, what)
        return self.carry_out(w, np.ascontiguousarray(x), what)


@dataclass(frozen=True)
class Broadcast(Rooted):
    """The root's x on every rank (every rank passes an x of the same shape)."""

    @property
    def name(self) -> str:
        return f"broadcast_from_{self.root}"

    def carry_out(self, w, x, what: str):
        return w.broadcast(x.copy(), self.root, what)  # a copy: x may be an input's memory

    def grad(self, inputs, outputs, output_grads):
        return [Reduce(self.root)(output_grads[0])]


@dataclass(frozen=True)
class Reduce(Rooted):
    """x summed over every rank on the root, zeros on the others (broadcast's gradient)."""

    @property
    def name(self) -> str:
        return f"reduce_to_{self.root}"

    def carry_out(self, w, x, what: str):
        return w.reduce(x, self.root, what)

    def grad(self, inputs, outputs, output_grads):
        return [Broadcast(self.root)(output_grads[0])]


def _group_size() -> int:
    w = peers()
    return 1 if w is None else w.size
