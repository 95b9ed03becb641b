"""Data-parallel training: `import symbolic.distributed as D`, launched with `mpiexec -n N`.

Collectives are graph ops with gradients (`allreduce`, `allgather`, `broadcast`); the compiler
coalesces all-reduces into buckets and overlaps them with the rest of the backward pass.
Outside mpiexec a process is rank 0 of 1 and every collective is the identity, so one script
runs either way. Host buffers travel over MPI (mpi4py, imported only under mpiexec). See
docs/distributed.md.
"""

from __future__ import annotations

from runtime.distributed.mpi import DistributedError, set_timeout, timeout
from symbolic.distributed.group import (
    _check_root,
    barrier,
    broadcast_shared,
    local_rank,
    rank,
    shard,
    size,
)
from symbolic.distributed.ops import (
    DEFAULT_BUCKET_BYTES,
    REDUCTIONS,
    Allgather,
    Allreduce,
    Broadcast,
    OneOverSize,
    check_mean_dtype,
)
from symbolic.graph import Variable, as_variable

__all__ = [
    "DistributedError",
    "allgather",
    "allreduce",
    "barrier",
    "broadcast",
    "broadcast_shared",
    "local_rank",
    "rank",
    "set_timeout",
    "shard",
    "size",
    "timeout",
]


def allreduce(x, op: str = "sum", bucket_bytes: int = DEFAULT_BUCKET_BYTES):
    """x reduced elementwise over every rank: op "sum", "mean", "max" or "min".

    `x` is a tensor (returns a tensor) or a list (one op over all of them; returns a list).
    Gradients: of sum, the sum of every rank's cotangent; of mean, their mean; of max and
    min, that sum routed to the lowest rank holding the extreme value (zero elsewhere).
    `bucket_bytes`: all-reduces of one compiled function are packed into buckets of about
    this size, each started as soon as its last tensor is computed and waited for where its
    first result is needed; 0 runs this one blocking, where it stands.
    """
    if op not in REDUCTIONS:
        raise ValueError(f"allreduce: op must be one of {REDUCTIONS}, got {op!r}")
    if not (isinstance(bucket_bytes, int) and bucket_bytes >= 0):
        raise ValueError(f"allreduce: bucket_bytes must be an int ≥ 0, got {bucket_bytes!r}")
    many = isinstance(x, (list, tuple))
    xs = [as_variable(v) for v in (x if many else [x])]
    if not xs:
        return []
    if op == "mean":  # the sum times 1/size, which fuses into the mean's consumer
        for x in xs:
            check_mean_dtype(x)
        sums = allreduce(xs, "sum", bucket_bytes)
        out = [total * OneOverSize(total.dtype)() for total in sums]
    else:
        out = Allreduce(op, bucket_bytes)(*xs)
        out = out if isinstance(out, list) else [out]
    return out if many else out[0]


def allgather(x, axis: int = 0) -> Variable:
    """Every rank's x joined along `axis` in rank order (lengths on `axis` may differ).
    Gradient: this rank's part of the sum over ranks of the cotangent."""
    x = as_variable(x)
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"allgather: axis {axis} is out of range for {x.describe()}")
    return Allgather(axis % x.ndim)(x)


def broadcast(x, root: int = 0) -> Variable:
    """The root's x on every rank. Gradient: the sum over ranks of the cotangent on the
    root, zeros on the others."""
    _check_root(root, size())
    return Broadcast(int(root))(as_variable(x))
