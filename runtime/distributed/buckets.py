"""Bucketed, overlapped all-reduces: the ops a function's all-reduces become (one start and
one wait per tensor, runtime/collectives.py places them) and the state they share.

A start hands its tensor to the open bucket of its kind (reduction, dtype, size threshold);
when the bucket holds `bucket_bytes` or more, or the function's last tensor of that kind
arrives, the bucket's all-reduce starts (here MPI_Iallreduce on host arrays; the cuda device
puts NCCL in its place: runtime/cuda/collectives.py). A wait returns its tensor reduced,
waiting for the bucket first (and starting it, if a consumer needs it before it filled up),
and keeps no reference to it.

On host arrays, a tensor of IN_PLACE_BYTES or more that the start may take (the schedule
gives it to no other node: runtime/collectives.py) is reduced in its own memory, by a
message of its own, so it is neither copied in nor out and the update that reads it can
write its result there too; the bucket's other tensors are packed into one buffer, reduced
by one message. MPICH advances a non-blocking collective only inside MPI calls, and the
compute between a bucket's start and its wait makes none; so while buckets are in flight a
thread tests them every PROGRESS_INTERVAL_S (kernels and BLAS release the GIL, so it runs
beside them), unless the bucket is waited for at once. The first call checks each bucket's
signature across ranks (runtime/distributed/mpi.py).

In a single process the buckets are formed all the same, but not packed: each tensor is its
own result.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from symbolic.graph import TensorType
from symbolic.op import Op

PROGRESS_INTERVAL_S = 1e-4
# A message costs about 10 µs on shared memory, what copying 256 KiB into a packed buffer does:
# smaller tensors are packed, larger ones reduced where they lie.
IN_PLACE_BYTES = 256 * 2**10


class Bucket:
    """Tensors packed into one buffer and reduced by one message."""

    __slots__ = (
        "key",
        "number",
        "members",
        "shapes",
        "may_take",
        "beside_compute",
        "buffer",
        "request",
        "messages",
        "requests",
        "started",
        "done",
        "waited",
        "finished",
        "nbytes",
        "parts",
    )

    def __init__(self, key: tuple, number: int):
        self.key, self.number = key, number
        self.members: list[tuple[int, np.ndarray]] = []  # (tensor index, array)
        self.shapes: list[tuple] = []  # the members' shapes, for messages
        self.may_take: set[int] = set()  # members the transport may reduce in place
        self.beside_compute = True  # whether compute runs before the bucket's first wait
        self.buffer = self.request = None
        self.messages: list[np.ndarray] = []  # MPI: the arrays reduced, until waited for
        self.requests: list = []
        # perf_counter times, for the profile: started, seen done, wait entered and left
        self.started = self.done = self.waited = self.finished = 0.0
        self.nbytes = 0
        self.parts: dict[int, np.ndarray] = {}  # tensor index → its result, until waited for

    def add(self, index: int, array: np.ndarray, may_take: bool) -> None:
        self.members.append((index, array))  # held: the runner does not reuse its memory
        self.shapes.append(array.shape)
        if may_take:
            self.may_take.add(index)
        self.nbytes += array.nbytes


class Buckets:
    """The all-reduce buckets of one compiled function.

    `keys[i]` is tensor i's (reduction, dtype, bucket_bytes) and `may_take[i]` whether its
    start is the only node that reads it (`add`); `order` the tensor indices in the order the
    schedule starts them (`set_order`); `where` names the function for errors. `history`
    keeps the last call's buckets (for f.profile). `transport` packs, starts and waits for
    the buckets: MPI on host arrays (`MpiTransport`) unless the device that runs the
    function puts its own in place (the cuda device's: NCCL)."""

    def __init__(self, where: str):
        self.where = where
        self.keys: list[tuple] = []
        self.may_take: list[bool] = []
        self.order: list[int] = []
        self.last_of_key: dict[tuple, int] = {}  # the start that closes a kind's bucket
        self.open: dict[tuple, Bucket] = {}
        self.bucket_of: dict[int, Bucket] = {}
        self.history: list[Bucket] = []
        self.checked = False
        self.transport = MpiTransport()
        # whether the schedule runs other nodes between the last start and the first wait
        # (runtime/collectives.py sets it): else a bucket the last start launches is waited
        # for at once, and the wait's own tests move it on
        self.compute_after_last_start = True

    def __getstate__(self) -> tuple:  # a pickled function's buckets start empty
        return self.where, self.keys, self.order, self.may_take

    def __setstate__(self, state: tuple) -> None:
        where, keys, order, *may_take = state  # pickles from before may_take: none taken
        self.__init__(where)
        self.keys = list(keys)
        self.may_take = list(may_take[0]) if may_take else [False] * len(keys)
        self.set_order(order)

    def add(self, key: tuple, may_take: bool = False) -> int:
        """A new tensor of kind `key`, whose memory its start may reduce in place when
        `may_take`; returns its index."""
        self.keys.append(key)
        self.may_take.append(may_take)
        return len(self.keys) - 1

    def set_order(self, order: list[int]) -> None:
        self.order = list(order)
        self.last_of_key = {self.keys[i]: i for i in order}

    def start(self, index: int, array) -> None:
        if index == self.order[0]:  # a new call: forget the last one's buckets
            self.history, self.bucket_of, self.open = [], {}, {}
        key = self.keys[index]
        bucket = self.open.get(key)
        if bucket is None:
            bucket = self.open[key] = Bucket(key, len(self.history))
            self.history.append(bucket)
        bucket.add(index, array, self.may_take[index])
        self.bucket_of[index] = bucket
        self.transport.progress()
        if bucket.nbytes >= key[2] or index == self.last_of_key[key]:
            self.launch(bucket, index != self.order[-1] or self.compute_after_last_start)
        if index == self.order[-1]:
            self.checked = True

    def launch(self, bucket: Bucket, beside_compute: bool) -> None:
        """Pack the bucket and start its all-reduce (`beside_compute`: compute runs before
        its first wait)."""
        from symbolic.distributed.ops import peers

        del self.open[bucket.key]
        bucket.started, bucket.beside_compute = time.perf_counter(), beside_compute
        w = peers()
        if w is None:  # alone: every tensor is its own result, nothing to pack
            bucket.parts, bucket.done = dict(bucket.members), bucket.started
            return
        self.transport.pack(bucket)
        if not self.checked:
            w.check_signature(self.describe(bucket, shapes=True), self.describe(bucket))
        self.transport.start(bucket, w)

    def finish(self, index: int):
        """Tensor `index` reduced over every rank."""
        bucket = self.bucket_of[index]
        if not bucket.started:  # needed before the bucket filled up
            self.launch(bucket, beside_compute=False)
        if not bucket.waited:
            self.wait(bucket)
        return bucket.parts.pop(index)  # the caller's alone: an update may write into it

    def wait(self, bucket: Bucket) -> None:
        from symbolic.distributed.ops import peers

        bucket.waited = time.perf_counter()
        w = peers()
        if w is not None:
            self.transport.wait(bucket, w, self.describe(bucket))
        bucket.finished = time.perf_counter()

    def describe(self, bucket: Bucket, shapes: bool = False) -> str:
        reduce, dtype, _ = bucket.key
        text = (
            f"bucket {bucket.number} (allreduce {reduce} of {len(bucket.shapes)} {dtype} "
            f"tensors, {bucket.nbytes} bytes) of the function compiled at {self.where}"
        )
        if shapes:
            text += ": " + ", ".join(str(list(shape)) for shape in bucket.shapes)
        return text


class MpiTransport:
    """Buckets of host arrays over MPI: large tensors a start may take reduced where they lie,
    the others packed by NumPy into one buffer (each tensor's result a view of it), every
    message reduced in place by MPI_Iallreduce, advanced by a progress thread while any is in
    flight beside compute, and divided by the size on the host for "mean"."""

    def __init__(self):
        self.in_flight: list[Bucket] = []
        self.lock = threading.Lock()  # MPI_Test of one request: one thread at a time
        self.progress_thread: threading.Thread | None = None

    def pack(self, bucket: Bucket) -> None:
        members, bucket.members = bucket.members, []  # the results hold the arrays from here
        packed = []
        for i, a in members:
            if i in bucket.may_take and _may_write(a):
                bucket.parts[i] = a
                bucket.messages.append(a)
            else:
                packed.append((i, a))
        if packed:
            bucket.buffer = np.concatenate([a.ravel() for _, a in packed])
            offset = 0
            for i, a in packed:  # views: they show the reduced values once it is done
                bucket.parts[i] = bucket.buffer[offset : offset + a.size].reshape(a.shape)
                offset += a.size
            bucket.messages.append(bucket.buffer)

    def start(self, bucket: Bucket, w) -> None:
        reduce = "sum" if bucket.key[0] == "mean" else bucket.key[0]
        with self.lock:
            bucket.requests = [w.allreduce(m, reduce) for m in bucket.messages]
            self.in_flight.append(bucket)
            if self.progress_thread is None and bucket.beside_compute:
                self.progress_thread = threading.Thread(
                    target=self._progress_loop, name="symbolic all-reduce progress", daemon=True
                )
                self.progress_thread.start()

    def progress(self) -> bool:
        """Test the buckets in flight (MPI advances them in its calls); whether any is left."""
        with self.lock:
            self.in_flight = [b for b in self.in_flight if not _seen_done(b)]
            if not self.in_flight:
                self.progress_thread = None
            return bool(self.in_flight)

    def _progress_loop(self) -> None:
        while self.progress():
            time.sleep(PROGRESS_INTERVAL_S)

    def _is_done(self, bucket: Bucket) -> bool:
        with self.lock:
            return _seen_done(bucket)

    def wait(self, bucket: Bucket, w, what: str) -> None:
        w.wait([], what, test=lambda: self._is_done(bucket))
        if bucket.key[0] == "mean":
            for message in bucket.messages:
                message /= message.dtype.type(w.size)
        bucket.messages, bucket.requests, bucket.buffer = [], [], None


def _seen_done(bucket: Bucket) -> bool:
    """Whether every message of the bucket has arrived (each test is an MPI call that moves
    messages on); the first time it is seen, `done` notes when, for the profile."""
    if not bucket.done and all(request.Test() for request in bucket.requests):
        bucket.done = time.perf_counter()
    return bool(bucket.done)


def _may_write(array: np.ndarray) -> bool:
    """Whether an array a start may take is reduced in its own memory: large, and an array of
    its own that may be written."""
    flags = array.flags
    return (
        array.nbytes >= IN_PLACE_BYTES
        and flags.owndata
        and flags.writeable
        and flags.c_contiguous
        and flags.aligned
    )


@dataclass(frozen=True, eq=False)  # each belongs to one function's buckets: equal to itself only
class AllreduceStart(Op):
    """Hands tensor `index` to its bucket; its output is a token its wait reads."""

    buckets: Buckets
    index: int
    communicates = True

    @property
    def name(self) -> str:
        return f"allreduce_{self.buckets.keys[self.index][0]}_start"

    def infer(self, x):
        return [TensorType("int64", ())]

    def perform(self, x):
        self.buckets.start(self.index, x)
        return np.zeros((), np.int64)


@dataclass(frozen=True, eq=False)
class AllreduceWait(Op):
    """Tensor `index` reduced over every rank (of type `type`), once its bucket is done."""

    buckets: Buckets
    index: int
    type: TensorType
    communicates = True

    @property
    def name(self) -> str:
        return f"allreduce_{self.buckets.keys[self.index][0]}_wait"

    def infer(self, token):
        return [self.type]

    def perform(self, token):
        return self.buckets.finish(self.index)
