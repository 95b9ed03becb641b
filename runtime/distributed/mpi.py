"""The process group over MPI: who this process is, collectives on host arrays that never wait
forever, and the side channel that ends every rank when one fails.

A process that mpiexec did not start (none of LAUNCH_VARIABLES is set) is rank 0 of 1:
mpi4py is not imported and every collective is the identity.

Every wait polls its requests (MPI_Test) until they complete, an abort notice arrives, or the
timeout passes. MPICH moves a large message through shared memory in chunks, one per call into
the library, so for the first SPIN_S a wait tests without pausing (a pause between tests would
stretch a 7 MB all-reduce from 2 ms to 10); after that it pauses between tests, from 20 µs up
to 250 µs, to leave the core to ranks that share it (`timeout()`: `set_timeout`, else
$SYMBOLIC_DISTRIBUTED_TIMEOUT, else 60 s). Faults end every rank with an error naming who:
- an uncaught exception on a rank (sys.excepthook) prints its traceback, sends an abort
  notice naming the rank and the error to every other rank on a second communicator, waits
  up to ABORT_GRACE_S for their acknowledgements and calls MPI_Abort, so the launcher ends
  every process (as it does when a rank is killed);
- a rank that sees a notice while it waits raises `DistributedError` naming the failed rank;
- a wait that times out asks every rank where it is; the error names those that did not
  answer within QUERY_GRACE_S and where the others wait;
- `check_signature`: ranks compare a text describing a collective (kind, dtype, shapes)
  before its first run, and every rank raises, showing each rank's text, where they differ.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
import traceback

import numpy as np

from runtime.distributed import monitor

# Set by the launchers that start MPI jobs: MPICH/Intel (PMI), Open MPI, PMIx, MVAPICH.
LAUNCH_VARIABLES = (
    "PMI_RANK",
    "PMI_SIZE",
    "OMPI_COMM_WORLD_SIZE",
    "PMIX_RANK",
    "MV2_COMM_WORLD_SIZE",
)
TIMEOUT_VARIABLE = "SYMBOLIC_DISTRIBUTED_TIMEOUT"
DEFAULT_TIMEOUT_S = 60.0
MAX_POLL_PAUSE_S = 2.5e-4  # the longest sleep between two tests of a request
SPIN_S = 0.02  # how long a wait tests without pausing
NOTICE_INTERVAL_S = 1e-3  # how often a spinning wait reads the side channel
ABORT_GRACE_S = 2.0  # how long a failing rank waits for the others to read its notice
QUERY_GRACE_S = 2.0  # how long a timed-out rank waits for the others to say where they are
ABORT, ACK, QUERY, ANSWER = 1, 2, 3, 4  # side-channel message tags
SIGNATURE_BYTES = 512  # a signature's fixed size on the wire (digest first, then the text)
COMPUTING = "no collective (computing)"  # where a rank is between collectives
REDUCE_OPS = ("sum", "max", "min")  # "mean" is a sum divided by the size


class DistributedError(RuntimeError):
    """A collective failed on some rank: another rank failed, did not answer, or disagreed."""


class PeerFailed(DistributedError):
    """Another rank failed and said so: this rank stops without notifying the others again.
    Left uncaught, it is acknowledged to `source` once printed (the failing rank then ends the
    job: acknowledging before printing would let the job end while this rank still prints)."""

    def __init__(self, message: str, source: int):
        super().__init__(message)
        self.source = source


_timeout: float | None = None
_world = None
_launched = None


def set_timeout(seconds: float) -> None:
    """How long any wait on other ranks may take before it raises (default 60 s)."""
    if not seconds > 0:
        raise ValueError(f"the timeout must be a positive number of seconds, got {seconds!r}")
    global _timeout
    _timeout = float(seconds)


def timeout() -> float:
    if _timeout is not None:
        return _timeout
    text = os.environ.get(TIMEOUT_VARIABLE)
    if text is None:
        return DEFAULT_TIMEOUT_S
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"${TIMEOUT_VARIABLE} must be a number of seconds, got {text!r}") from None


def world():
    """The `World` of this MPI job, or None where mpiexec did not start this process."""
    global _world, _launched
    if _launched is None:
        _launched = any(name in os.environ for name in LAUNCH_VARIABLES)
    if _launched and _world is None:
        _world = World()
    return _world


def group_size() -> int:
    w = world()
    return 1 if w is None else w.size


class World:
    """MPI_COMM_WORLD's ranks: `comm` carries collectives, `notices` the side channel."""

    def __init__(self):
        try:
            from mpi4py import MPI
        except ImportError:
            raise ImportError(
                "this process was started by mpiexec, but mpi4py is not installed: "
                'pip install "symbolic[distributed]" (mpi4py and mpich)'
            ) from None
        self.MPI = MPI
        self.comm, self.notices = MPI.COMM_WORLD.Dup(), MPI.COMM_WORLD.Dup()
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        self.local_rank = node.Get_rank()
        self.status = None  # where this rank is, for a watcher that outlives it (monitor.py)
        if self.size > 1:
            self.status = monitor.watch(node, self.rank, self.size)
        node.Free()
        self.waiting_in = COMPUTING  # what a QUERY is answered with
        self.checked: set[str] = set()
        self._sent: list = []  # side-channel sends in flight (their buffers must live)
        if self.size > 1:
            self._chained_hook = sys.excepthook
            sys.excepthook = self._on_uncaught

    @property
    def waiting_in(self) -> str:
        return self._waiting_in

    @waiting_in.setter
    def waiting_in(self, what: str) -> None:
        self._waiting_in = what
        if self.status is not None:
            self.status.where("computing" if what == COMPUTING else f"waiting in {what}")

    def others(self) -> list[int]:
        return [r for r in range(self.size) if r != self.rank]

    # ---- waiting ------------------------------------------------------------------------

    def wait(self, requests: list, what: str, test=None) -> None:
        """Poll until `requests` complete (or `test()` says so); raise DistributedError on a
        notice or timeout."""
        done = test or (lambda: self.MPI.Request.Testall(requests))
        if done():
            return
        self.waiting_in = what
        limit = timeout()
        now = time.monotonic()
        deadline, spin_until, read_at, pause = now + limit, now + SPIN_S, now, 0.0
        try:
            while not done():
                now = time.monotonic()
                if now >= read_at:
                    self.read_notices(what)
                    if now > deadline:
                        self.timed_out(what, limit)
                    read_at = now + NOTICE_INTERVAL_S if now < spin_until else now
                if now >= spin_until:
                    time.sleep(pause)
                    pause = min(2 * pause or 2e-5, MAX_POLL_PAUSE_S)
        finally:
            self.waiting_in = COMPUTING

    def read_notices(self, what: str) -> None:
        """Answer queries; raise on an abort notice from another rank."""
        status = self.MPI.Status()
        while self.notices.Iprobe(self.MPI.ANY_SOURCE, QUERY, status):
            self.notices.recv(source=status.Get_source(), tag=QUERY)
            self._send(self.waiting_in, status.Get_source(), ANSWER)
        if self.notices.Iprobe(self.MPI.ANY_SOURCE, ABORT, status):
            source = status.Get_source()
            message = self.notices.recv(source=source, tag=ABORT)
            raise PeerFailed(
                f"rank {source} failed: {message}\nrank {self.rank} stopped while waiting in {what}",
                source,
            )

    def timed_out(self, what: str, limit: float) -> None:
        """Ask every rank where it is, then raise naming those that did not answer."""
        lines = [f"rank {self.rank}: {what} timed out after {limit:g} s", *self.whereabouts(what)]
        raise DistributedError("; ".join(lines))

    def whereabouts(self, what: str) -> list[str]:
        """Every other rank asked where it is: a line naming those that did not answer within
        QUERY_GRACE_S (or the timeout, if shorter), then one per answer ("rank r waits in …")."""
        MPI = self.MPI
        for r in self.others():
            self._send("where are you?", r, QUERY)
        answers: dict[int, str] = {}
        deadline, status = time.monotonic() + min(QUERY_GRACE_S, timeout()), MPI.Status()
        while len(answers) < self.size - 1 and time.monotonic() < deadline:
            if self.notices.Iprobe(MPI.ANY_SOURCE, ANSWER, status):
                answers[status.Get_source()] = self.notices.recv(
                    source=status.Get_source(), tag=ANSWER
                )
            else:
                self.read_notices(what)
                time.sleep(1e-3)
        silent = [r for r in self.others() if r not in answers]
        lines = [f"rank(s) {', '.join(map(str, silent))} did not answer"] if silent else []
        return lines + [f"rank {r} waits in {answers[r]}" for r in sorted(answers)]

    def _send(self, message, dest: int, tag: int) -> None:
        self._sent = [r for r in self._sent if not r.Test()]
        self._sent.append(self.notices.isend(message, dest=dest, tag=tag))

    # ---- faults ---------------------------------------------------------------------------

    def _on_uncaught(self, kind, error, tb) -> None:
        """Print the error, tell every other rank (unless another rank's notice caused it),
        give them a moment to read it, and end the job."""
        sys.stdout.flush()
        self.status.aborting()  # this error is reported here: the watchers need not
        print(f"rank {self.rank} of {self.size} failed:", file=sys.stderr)
        traceback.print_exception(kind, error, tb, file=sys.stderr)
        sys.stderr.flush()
        if isinstance(error, PeerFailed):  # printed: the failing rank may end the job now
            self._send(None, error.source, ACK)
            time.sleep(ABORT_GRACE_S)  # it ends the job; if it cannot, this rank does
        else:
            summary = f"{kind.__name__}: {str(error).splitlines()[0] if str(error) else ''}"
            for r in self.others():
                self._send(summary[:500], r, ABORT)
            acks, deadline = set(), time.monotonic() + ABORT_GRACE_S
            status = self.MPI.Status()
            while len(acks) < self.size - 1 and time.monotonic() < deadline:
                if self.notices.Iprobe(self.MPI.ANY_SOURCE, ACK, status):
                    self.notices.recv(source=status.Get_source(), tag=ACK)
                    acks.add(status.Get_source())
                else:
                    time.sleep(1e-3)
        self.comm.Abort(1)

    # ---- collectives on host arrays -------------------------------------------------------

    def check_signature(self, signature: str, what: str) -> None:
        """Raise on every rank where the ranks' `signature`s of one collective differ; each
        distinct signature is checked once (on the first call of what describes it)."""
        if signature in self.checked:
            return
        digest = hashlib.sha1(signature.encode()).hexdigest()[:16]
        mine = np.zeros(SIGNATURE_BYTES, np.uint8)
        encoded = f"{digest} {signature}".encode()[:SIGNATURE_BYTES]
        mine[: len(encoded)] = np.frombuffer(encoded, np.uint8)
        gathered = np.empty((self.size, SIGNATURE_BYTES), np.uint8)
        self.wait([self.comm.Iallgather(mine, gathered)], f"the signature check of {what}")
        texts = [bytes(row).rstrip(b"\0").decode(errors="replace") for row in gathered]
        if len(set(texts)) > 1:
            shown = "\n".join(f"  rank {r}: {t.partition(' ')[2]}" for r, t in enumerate(texts))
            raise DistributedError(
                f"the ranks run different collectives at {what}:\n{shown}\n"
                "every rank must run the same collectives, in the same order, on the same shapes"
            )
        self.checked.add(signature)

    def allreduce(self, buffer: np.ndarray, op: str):
        """Start a sum, max or min over every rank, in place in `buffer`; returns the request."""
        MPI = self.MPI
        ops = {"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}
        return self.comm.Iallreduce(MPI.IN_PLACE, buffer, ops[op])

    def allgather_rows(self, rows: np.ndarray, what: str) -> np.ndarray:
        """Every rank's `rows` (a contiguous array) joined along axis 0; the ranks may hold
        different numbers of rows."""
        counts = self.gather_counts(len(rows), what)
        row = int(np.prod(rows.shape[1:], dtype=np.int64))
        out = np.empty((int(counts.sum()), *rows.shape[1:]), rows.dtype)
        sizes = counts * row
        displacements = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        request = self.comm.Iallgatherv(rows, [out, (sizes, displacements)])
        self.wait([request], what)
        return out

    def gather_bytes(self, data: np.ndarray, what: str) -> list[np.ndarray]:
        """Every rank's uint8 `data` (of any length), in rank order."""
        counts = self.gather_counts(len(data), what)
        joined = self.allgather_rows(np.ascontiguousarray(data, np.uint8), what)
        return np.split(joined, np.cumsum(counts)[:-1])

    def gather_counts(self, count: int, what: str) -> np.ndarray:
        """Every rank's `count`, in rank order."""
        counts = np.empty(self.size, np.int64)
        self.wait([self.comm.Iallgather(np.array([count], np.int64), counts)], what)
        return counts

    def broadcast(self, buffer: np.ndarray, root: int, what: str) -> np.ndarray:
        """`buffer` (contiguous) overwritten with the root's values."""
        self.wait([self.comm.Ibcast(buffer, root)], what)
        return buffer

    def reduce(self, array: np.ndarray, root: int, what: str) -> np.ndarray:
        """The sum over every rank on the root; zeros elsewhere."""
        out = np.zeros_like(array)
        request = self.comm.Ireduce(array, out, self.MPI.SUM, root)
        self.wait([request], what)
        return out

    def barrier(self) -> None:
        self.wait([self.comm.Ibarrier()], "a barrier")
