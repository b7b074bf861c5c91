"""The daily run writes its batches a few at a time (runbodies.write_batches, WRITING_AT_ONCE): one renders while the
others' rows go into the store. Its reports add up in order, at most that many batches run at once, and a failure
stops the batches not yet started while those started finish."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from duban.notices import Chunk, WriteReport
from duban.runbodies import WRITING_AT_ONCE, write_batches


def batches(n: int) -> list[Chunk]:
    return [Chunk([]) for _ in range(n)]


class Writer:
    """Stands for the queue-batch step: records when each batch ran and how many ran at once."""

    def __init__(self, fail_at: int | None = None, hold: float = 0.02) -> None:
        self.fail_at, self.hold = fail_at, hold
        self.lock = threading.Lock()
        self.running = self.most = 0
        self.done: list[int] = []
        self.order: dict[int, int] = {}

    def __call__(self, chunk: Chunk) -> WriteReport:
        with self.lock:
            index = self.order.setdefault(id(chunk), len(self.order))
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(self.hold)
            if index == self.fail_at:
                raise RuntimeError(f"batch {index} failed")
            return WriteReport(notifications=Counter({"email": 1}), person_ids={f"p{index}"})
        finally:
            with self.lock:
                self.running -= 1
                self.done.append(index)


def test_every_batch_is_written_and_counted_a_few_at_a_time():
    writer = Writer()
    report = write_batches(batches(9), writer)
    assert report.notifications == Counter({"email": 9}) and report.people == 9
    assert sorted(writer.done) == list(range(9)) and writer.most == WRITING_AT_ONCE


def test_one_at_a_time_when_asked():
    writer = Writer()
    write_batches(batches(4), writer, at_once=1)
    assert writer.done == [0, 1, 2, 3] and writer.most == 1


def test_a_failure_stops_what_has_not_started_and_lets_the_started_finish():
    writer = Writer(fail_at=2)
    with pytest.raises(RuntimeError, match="batch 2 failed"):
        write_batches(batches(8), writer)
    assert writer.running == 0  # nothing left running behind the error
    assert set(writer.done) <= {0, 1, 2, 3, 4} and {0, 1, 2} <= set(writer.done)  # at most two past the failed one
