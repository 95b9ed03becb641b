"""A profiled function's last call as a Chrome trace (the JSON of chrome://tracing and
Perfetto): per rank (the trace's process), its nodes on one track and its all-reduce buckets
on another, so the picture shows which communication ran under which compute.

Node times come from the runner's per-step timing, laid end to end from the call's start
(the few microseconds between steps are left out); bucket times are clock readings taken
as each bucket started, was seen done, and was waited for. Ranks' clocks are aligned by the
wall clock at each call's start (one machine: the same clock).
"""

from __future__ import annotations

import json

import numpy as np

COMPUTE_TRACK, COMMUNICATION_TRACK, WAIT_TRACK = 0, 1, 2


def rank_events(profile, rank: int) -> list[dict]:
    """The last call's events of this rank, in microseconds since the epoch."""
    origin = profile.call_started * 1e6
    events, offset = [], 0.0
    for node, seconds in profile.last_call or ():
        events.append(_event(node.op.name, origin + offset * 1e6, seconds, rank, COMPUTE_TRACK))
        offset += seconds
    for b in profile.last_buckets:
        start = origin + (b.started - profile.call_clock) * 1e6
        label = f"bucket {b.number}: allreduce {b.key[0]} {b.key[1]}, {b.nbytes} bytes"
        done = max(b.done, b.started)
        events.append(_event(label, start, done - b.started, rank, COMMUNICATION_TRACK))
        if b.finished > b.waited:
            waited = origin + (b.waited - profile.call_clock) * 1e6
            events.append(
                _event(
                    f"wait for bucket {b.number}", waited, b.finished - b.waited, rank, WAIT_TRACK
                )
            )
    return events


def _event(name: str, start_us: float, seconds: float, rank: int, track: int) -> dict:
    return {
        "name": name,
        "ph": "X",
        "ts": start_us,
        "dur": seconds * 1e6,
        "pid": rank,
        "tid": track,
    }


def write_trace(profile, path: str) -> None:
    """Gather every rank's events (under mpiexec) and write them on rank 0."""
    from runtime.distributed.mpi import world

    w = world()
    rank = 0 if w is None else w.rank
    events = rank_events(profile, rank)
    if w is not None and w.size > 1:
        mine = np.frombuffer(json.dumps(events).encode(), np.uint8)
        gathered = w.gather_bytes(mine, "the trace's events")
        if rank != 0:
            return
        events = [e for part in gathered for e in json.loads(bytes(part).decode())]
    names = {r: f"rank {r}" for r in {e["pid"] for e in events}}
    meta = [
        {"name": "process_name", "ph": "M", "pid": r, "args": {"name": label}}
        for r, label in names.items()
    ]
    tracks = {COMPUTE_TRACK: "compute", COMMUNICATION_TRACK: "all-reduce", WAIT_TRACK: "waiting"}
    meta += [
        {"name": "thread_name", "ph": "M", "pid": r, "tid": t, "args": {"name": label}}
        for r in names
        for t, label in tracks.items()
    ]
    with open(path, "w") as f:
        json.dump({"traceEvents": meta + events, "displayTimeUnit": "ms"}, f)
