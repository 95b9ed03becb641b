"""Who this process is in the job, and the plain (non-graph) operations on the whole group:
barrier, broadcast of shared variables, and the rows of a dataset each rank reads."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from runtime.distributed.mpi import world
from symbolic.graph import SharedVariable


def rank() -> int:
    """This process's rank in the job, 0 to size() − 1 (0 outside mpiexec)."""
    w = world()
    return 0 if w is None else w.rank


def size() -> int:
    """The number of processes in the job (1 outside mpiexec)."""
    w = world()
    return 1 if w is None else w.size


def local_rank() -> int:
    """This process's rank among those on its machine: the GPU it should use."""
    w = world()
    return 0 if w is None else w.local_rank


def barrier() -> None:
    """Wait until every rank reaches this point (raises after the timeout, naming who is late)."""
    w = world()
    if w is not None and w.size > 1:
        w.barrier()


def broadcast_shared(shared_variables: Sequence[SharedVariable], root: int = 0) -> None:
    """Set every rank's values of `shared_variables` (the same list on every rank) to the
    root's: how every rank starts from the same parameters."""
    variables = list(shared_variables)
    for v in variables:
        if not isinstance(v, SharedVariable):
            raise TypeError(f"broadcast_shared takes shared variables, got {v!r}")
    w = world()
    if w is None or w.size == 1:
        return
    _check_root(root, w.size)
    listed = ", ".join(f"{v.dtype}[{v.ndim}-d]" for v in variables)
    what = f"broadcast_shared from rank {root} of {len(variables)} variables ({listed})"
    w.check_signature(what, what)
    values = []
    for v in variables:  # the root's shapes first: the others may hold other shapes
        value = v.get_value(borrow=True)
        shape = np.array(value.shape if w.rank == root else [0] * v.ndim, np.int64)
        shape = w.broadcast(shape, root, what)
        buffer = np.ascontiguousarray(value) if w.rank == root else np.empty(shape, v.dtype)
        values.append(w.broadcast(buffer, root, what))
    if w.rank != root:  # all received: set together
        for v, value in zip(variables, values):
            v.set_value(value, borrow=True)


def shard(n_items: int, batch_size: int) -> list[np.ndarray]:
    """This rank's rows of each global batch: one int64 index array per step.

    Step s covers the global rows [s·batch_size, min(n_items, (s+1)·batch_size)), so every
    rank takes the same number of steps per epoch, and splits them into size() contiguous
    parts in rank order, as np.array_split does: with r rows, the first r mod size() ranks
    get one row more. A last, short batch is split the same way (a rank may get no row).
    Index a permutation shared by all ranks (same seed) with these rows to shuffle.
    Where the parts differ in size, average a loss over the global batch, not per rank:
    `D.allreduce(local_losses.sum() / global_rows, op="sum")` equals the single-process mean.
    """
    if n_items < 0 or batch_size < 1:
        raise ValueError(
            f"shard needs n_items ≥ 0 and batch_size ≥ 1, got {n_items} and {batch_size}"
        )
    me, n_ranks = rank(), size()
    steps = []
    for first in range(0, n_items, batch_size):
        base, extra = divmod(min(batch_size, n_items - first), n_ranks)
        start = first + me * base + min(me, extra)
        steps.append(np.arange(start, start + base + (me < extra), dtype=np.int64))
    return steps


def _check_root(root: int, n_ranks: int) -> None:
    if not (isinstance(root, (int, np.integer)) and 0 <= root < n_ranks):
        raise ValueError(f"root must be a rank from 0 to {n_ranks - 1}, got {root!r}")
