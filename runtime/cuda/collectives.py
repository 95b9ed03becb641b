"""All-reduce buckets of device arrays over NCCL: the cuda device's transport for the buckets
of runtime/distributed/buckets.py (which decide what goes in which bucket, and when).

- A bucket is packed into one device buffer by copies queued on the compute stream (each
  tensor's result is then a view of that buffer).
- The buckets launched by a run of consecutive starts of the schedule are started together,
  after the last start of the run: the communication stream waits for an event recorded on
  the compute stream after the packing copies (so after every producer), one
  ncclGroupStart/End holds their ncclAllReduce's (in place on each buffer), and an event is
  recorded on the communication stream after them.
- A wait makes the compute stream wait for that event; the host does not wait. "mean" is
  ncclAvg (NCCL ≥ 2.10), else a sum divided by the size on the device.
- At the end of a call (`settle`), before any output reaches the host or any shared variable
  changes, the host polls each bucket's event under the timeout, with NCCL's error state and
  the other ranks' abort notices (runtime/distributed/nccl.py): a fault raises from the call
  that met it, naming the bucket and where the other ranks are.
"""

from __future__ import annotations

import time
import weakref
from contextlib import contextmanager
from functools import partial

import numpy as np

from runtime.cuda.array import DeviceArray, c_strides
from runtime.distributed.buckets import AllreduceStart, AllreduceWait, Bucket, Buckets
from runtime.distributed.nccl import NcclCommunicator

_nccl = {"library": None}  # a stand-in libnccl (use_nccl); None: the real one
_communicators: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # driver → its own


@contextmanager
def use_nccl(library):
    """Run cuda functions' collectives over `library` (an object with libnccl's functions) in
    the block; communicators made in it are forgotten at its end."""
    saved = _nccl["library"]
    _nccl["library"] = library
    try:
        yield
    finally:
        _nccl["library"] = saved
        _communicators.clear()


def communicator(device, world) -> NcclCommunicator:
    """The device's communicator over every rank, made on first use (a collective call: every
    rank makes it at the same point of the same schedule)."""
    driver = device.driver
    found = _communicators.get(driver)
    if found is None:
        stream = driver.communication_stream()
        found = NcclCommunicator(
            world, stream, lambda: driver.stream_done(stream), _nccl["library"]
        )
        _communicators[driver] = found
    return found


class NcclTransport:
    """The buckets of one function on the cuda device (see the module's docstring)."""

    def __init__(self, buckets: Buckets, context):
        self.buckets, self.context = buckets, context  # context: the CudaContext
        self.world = None
        self.pending: list[Bucket] = []  # launched, their all-reduce not yet enqueued
        self.in_flight: list[Bucket] = []  # enqueued during this call, not yet seen done

    def progress(self) -> None:
        """Note the buckets seen done (NCCL advances on the GPU; this is for the profile)."""
        if self.in_flight:
            driver, now = self.context.device.driver, time.perf_counter()
            for bucket in self.in_flight:
                if not bucket.done and driver.event_done(bucket.request):
                    bucket.done = now

    def pack(self, bucket: Bucket) -> None:
        device = self.context.device
        size = sum(a.size for _, a in bucket.members)
        bucket.buffer = device.empty((size,), bucket.members[0][1].dtype)
        offset = 0
        for _, a in bucket.members:
            a = device.contiguous(a)
            if a.nbytes:
                device.driver.copy(bucket.buffer.ptr + offset, a.ptr, a.nbytes)
            offset += a.nbytes
        _view_parts(bucket)

    def start(self, bucket: Bucket, world) -> None:
        self.world = world
        self.pending.append(bucket)

    def flush(self) -> None:
        """Enqueue the pending buckets' all-reduces, as one group, after the compute so far."""
        if not self.pending:
            return
        device = self.context.device
        driver, comm = device.driver, communicator(device, self.world)
        driver.wait_event(comm.stream, driver.record_event(driver.stream_handle))
        with comm.group():
            for bucket in self.pending:
                op = "sum" if bucket.key[0] == "mean" and not comm.has_avg else bucket.key[0]
                buffer = bucket.buffer
                comm.allreduce(buffer.ptr, buffer.ptr, buffer.size, buffer.dtype, op)
        done = driver.record_event(comm.stream)
        for bucket in self.pending:
            bucket.request = done
        self.in_flight += self.pending
        self.pending = []

    def wait(self, bucket: Bucket, world, what: str) -> None:
        """The compute stream waits for the bucket's all-reduce (the host does not)."""
        self.flush()  # a bucket its first consumer launched (before it filled up)
        device = self.context.device
        driver = device.driver
        driver.wait_event(driver.stream_handle, bucket.request)
        if self.context.sync_each:  # profiling: each step's time is its own, so wait here
            communicator(device, world).wait(what, partial(driver.event_done, bucket.request))
        self.progress()
        if bucket.key[0] == "mean" and not communicator(device, world).has_avg:
            count = np.asarray(world.size, bucket.buffer.dtype)
            divide = device.utility(f"divide_{bucket.buffer.dtype.name}")
            bucket.buffer = divide.run(device, [bucket.buffer, device.to_device(count)])[0]
            _view_parts(bucket)

    def settle(self) -> None:
        """Poll, under the timeout, until this call's all-reduces are done (module docstring)."""
        self.flush()
        if not self.in_flight:
            return
        device = self.context.device
        driver, comm = device.driver, communicator(device, self.world)
        in_flight, self.in_flight = self.in_flight, []
        for bucket in in_flight:
            comm.wait(self.buckets.describe(bucket), partial(driver.event_done, bucket.request))
            bucket.done = bucket.done or time.perf_counter()


def _view_parts(bucket: Bucket) -> None:
    """Each tensor's result: its part of the bucket's buffer, in its shape."""
    buffer, offset = bucket.buffer, 0
    for i, a in bucket.members:
        bucket.parts[i] = buffer.view_as(a.shape, c_strides(a.shape, buffer.itemsize), offset)
        offset += a.size * buffer.itemsize


class CudaCollectives:
    """A cuda function's bucketed all-reduces: an NcclTransport in place of each of its
    Buckets' MPI one, and which starts end a run of starts (where the run's buckets begin)."""

    def __init__(self, fgraph, context):
        nodes = fgraph.nodes
        self.transports = []
        for buckets in {id(n.op.buckets): n.op.buckets for n in nodes if _is_start(n)}.values():
            buckets.transport = NcclTransport(buckets, context)
            self.transports.append(buckets.transport)
        following = [*nodes[1:], None]
        self.ends_run = {
            id(a) for a, b in zip(nodes, following) if _is_start(a) and not _is_start(b)
        }

    def begin_call(self) -> None:
        """Forget buckets a failed call launched but never enqueued (the other ranks do not
        run them); those in flight stay, holding their buffers, until the next `settle`."""
        for transport in self.transports:
            transport.pending = []

    def settle(self) -> None:
        for transport in self.transports:
            transport.settle()


def _is_start(node) -> bool:
    return node is not None and isinstance(node.op, AllreduceStart)


def start_step(node, context):
    """Hands a device array (a host one copied first) to its bucket; the last start of a run
    enqueues the buckets that the run launched."""
    op, ends_run = node.op, id(node) in context.collectives.ends_run

    def run(x):
        if x.__class__ is not DeviceArray:
            x = context.device.to_device(x)
        op.buckets.start(op.index, x)
        if ends_run:
            op.buckets.transport.flush()
        return np.zeros((), np.int64)

    return run


def wait_step(node, context):
    """The tensor's reduced values: a view of its bucket's buffer, once the compute stream has
    waited for the bucket."""
    op = node.op
    return lambda token: op.buckets.finish(op.index)


STEPS = {AllreduceStart: start_step, AllreduceWait: wait_step}
