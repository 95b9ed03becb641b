"""Names a rank that ends without a word: killed (SIGKILL, the out-of-memory killer) or crashed.

Such a rank runs none of its own code, and MPICH's launcher then kills every other rank at once
(SIGKILL: nothing runs there either) and reports a process id, often a survivor's. So each rank
of a job of two or more starts a small watcher process of its own session (the launcher does not
kill it) that waits for the rank to end (a pidfd). The rank keeps a status page the watcher can
read (a shared file, mapped): whether it finished through its own code (a normal exit, or an
error it reported before MPI_Abort) and where it is (computing, or the collective it waits in).

A rank that ended otherwise is written down by its watcher in the job's report on this machine
(its rank, process id, host, exit status where the watcher saw it, and where it was). After
REPORT_GRACE_S the watcher of the lowest such rank prints one report on the job's standard
error. It names the rank that ended first where that can be told: the one rank that was not
waiting in a collective while all the others were; otherwise it lists every rank and where it
was. For example:

    rank 1 of 3 (process 5880 on vm) ended without finishing, killed or crashed, while computing
    (the others waited for it); the launcher then stopped rank 0 (process 5879,
    waiting in bucket 0 (allreduce sum ...)); rank 2 (...)

The job's folder (a private temporary directory per machine, made by its local rank 0) holds the
status pages and the report; the last watcher out removes it.
"""

from __future__ import annotations

import atexit
import json
import mmap
import os
import select
import signal
import sys
import tempfile
import time
from pathlib import Path

STATUS_BYTES = 1024  # one status page: a state byte, then where the rank is (UTF-8, NUL-padded)
RUNNING, FINISHED = b"R", b"F"
REPORT_GRACE_S = 0.5  # how long the first watcher waits for the launcher's other kills
ABORTED = "aborted"  # a file in the job's folder: a rank reported its own error and aborted


class Status:
    """The rank's side: a status page its watcher reads after the rank has ended."""

    def __init__(self, folder: Path, rank: int):
        self.folder, self.path = folder, folder / f"status-{rank}"
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, STATUS_BYTES)
            self.page = mmap.mmap(fd, STATUS_BYTES)
        finally:
            os.close(fd)
        self.page[:1] = RUNNING
        atexit.register(self.finish)

    def where(self, text: str) -> None:
        data = text.encode(errors="replace")[: STATUS_BYTES - 1]
        self.page[1 : 1 + len(data)] = data
        self.page[1 + len(data) : STATUS_BYTES] = bytes(STATUS_BYTES - 1 - len(data))

    def finish(self) -> None:
        """This rank ends through its own code: its watcher stays silent."""
        if not self.page.closed:
            self.page[:1] = FINISHED

    def aborting(self) -> None:
        """This rank reported an error and aborts the job: every watcher here stays silent."""
        self.finish()
        (self.folder / ABORTED).touch()


def watch(node_comm, rank: int, size: int) -> Status:
    """Start this rank's watcher; returns the status page the rank keeps up to date.
    Collective over `node_comm` (the ranks on this machine)."""
    import subprocess  # here: a process that never runs a job of two imports no subprocess

    path = tempfile.mkdtemp(prefix="symbolic-ranks-") if node_comm.Get_rank() == 0 else None
    folder = Path(node_comm.bcast(path, root=0))
    status = Status(folder, rank)
    node_comm.Barrier()  # every status page exists before any rank can finish
    command = [sys.executable, "-S", "-c", _WATCHER_CALL, __file__]
    command += [str(rank), str(size), str(folder), str(os.getpid())]
    subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        start_new_session=True,  # not in the launcher's reach: it outlives a killed rank
        close_fds=True,
    )
    return status


# The watcher runs this file by path (no package import: a bare interpreter starts fast).
_WATCHER_CALL = (
    "import runpy, sys; runpy.run_path(sys.argv[1], run_name='__watcher__')['main'](sys.argv[2:])"
)


def main(argv: list[str]) -> None:
    rank, size, folder, pid = int(argv[0]), int(argv[1]), Path(argv[2]), int(argv[3])
    exit_status = _wait_for_end(pid)
    status_path = folder / f"status-{rank}"
    try:
        page = status_path.read_bytes()
    except OSError:
        return
    if page[:1] == FINISHED or (folder / ABORTED).exists():
        _leave(folder, status_path)
        return
    where = page[1:].rstrip(b"\0").decode(errors="replace") or "starting"
    mine = {"rank": rank, "pid": pid, "host": os.uname().nodename}
    mine.update(exit=exit_status, where=where)
    report = folder / "report"
    with open(report, "a") as f:
        f.write(json.dumps(mine) + "\n")
    time.sleep(REPORT_GRACE_S)
    if (folder / ABORTED).exists():
        _leave(folder, status_path)
        return
    lines = [json.loads(line) for line in report.read_text().splitlines() if line.strip()]
    if min(r["rank"] for r in lines) == rank:  # one watcher reports: the lowest rank's
        sys.stderr.write(describe(lines, size) + "\n")
        sys.stderr.flush()
        time.sleep(REPORT_GRACE_S)  # the others read the report before it goes
        report.unlink(missing_ok=True)
    _leave(folder, status_path)


def _wait_for_end(pid: int) -> str:
    """Wait until the process has ended; how it ended, if it can still be read."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return _exit_status(pid)  # already gone
    select.select([handle], [], [])
    os.close(handle)
    return _exit_status(pid)


def describe(lines: list[dict], size: int) -> str:
    """The report. The rank that ended first is the one rank that was not waiting in a
    collective while every other rank was: they were waiting for it. (The order in which the
    processes end does not tell: a killed process may take longer to tear down than those the
    launcher kills after it.)"""
    by_rank = {r["rank"]: r for r in lines}
    not_waiting = [r for r in sorted(by_rank) if not by_rank[r]["where"].startswith("waiting")]
    if len(not_waiting) != 1 or len(by_rank) != size:
        return (
            f"symbolic.distributed: ranks {', '.join(map(str, sorted(by_rank)))} of {size} "
            "ended without finishing (one ended first, killed or crashed, and the launcher "
            "stopped the others): " + _list(by_rank)
        )
    first = not_waiting[0]
    rank = by_rank.pop(first)
    text = (
        f"rank {first} of {size} (process {rank['pid']} on {rank['host']}) ended without "
        f"finishing, {rank['exit']}, while {rank['where']} (the others waited for it)"
    )
    if by_rank:
        text += "; the launcher then stopped " + _list(by_rank)
    return "symbolic.distributed: " + text


def _list(by_rank: dict[int, dict]) -> str:
    return "; ".join(
        f"rank {r} (process {by_rank[r]['pid']}, {by_rank[r]['where']})" for r in sorted(by_rank)
    )


def _exit_status(pid: int) -> str:
    """How the process ended, read from its /proc entry while it is a zombie, if it still is."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        code = int(fields[49])  # the 52nd field, exit_code, in waitpid's encoding
    except (OSError, IndexError, ValueError):
        return "killed or crashed"  # the launcher reaped it before the watcher looked
    if code & 0x7F:
        number = code & 0x7F
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "unknown"
        return f"killed by signal {number} ({name})"
    return f"exit status {code >> 8}"


def _leave(folder: Path, status_path: Path) -> None:
    """Remove this rank's page; the last watcher out removes the folder."""
    status_path.unlink(missing_ok=True)
    if not any(p.name.startswith("status-") for p in folder.iterdir()):
        for p in folder.iterdir():
            p.unlink(missing_ok=True)
        try:
            folder.rmdir()
        except OSError:
            pass
