"""The watchers' report on ranks that ended without a word (runtime/distributed/monitor.py);
the launched cases are in test_ranks.py."""

from runtime.distributed.monitor import Status, describe


def rank(r: int, where: str) -> dict:
    return {"rank": r, "pid": 100 + r, "host": "node", "exit": "killed or crashed", "where": where}


WAITING = "waiting in bucket 0 (allreduce sum of 1 float32 tensors, 16 bytes)"


def test_the_rank_the_others_waited_for_is_named_first():
    text = describe([rank(0, WAITING), rank(2, WAITING), rank(1, "computing")], 3)
    assert text.startswith("symbolic.distributed: rank 1 of 3 (process 101 on node) ended")
    assert "while computing (the others waited for it)" in text
    assert "the launcher then stopped rank 0 (process 100, waiting in bucket 0" in text
    assert "rank 2 (process 102, waiting in bucket 0" in text


def test_without_a_single_straggler_every_rank_is_listed():
    cases = [
        ([rank(0, "computing"), rank(1, "computing")], 2),  # nobody waited yet
        ([rank(0, WAITING), rank(1, WAITING)], 2),  # all waited
        ([rank(0, WAITING), rank(1, "computing")], 3),  # rank 2 did not report
    ]
    for lines, size in cases:
        text = describe(lines, size)
        assert f"ranks 0, 1 of {size} ended without finishing (one ended first" in text
        assert "rank 0 (process 100" in text and "rank 1 (process 101" in text


def test_status_page_says_where_the_rank_is_and_whether_it_finished(tmp_path):
    status = Status(tmp_path, 3)
    status.where("waiting in a barrier")
    page = (tmp_path / "status-3").read_bytes()
    assert page[:1] == b"R" and page[1:].rstrip(b"\0") == b"waiting in a barrier"
    status.where("computing")
    assert (tmp_path / "status-3").read_bytes()[1:].rstrip(b"\0") == b"computing"
    status.aborting()
    assert (tmp_path / "status-3").read_bytes()[:1] == b"F" and (tmp_path / "aborted").exists()
