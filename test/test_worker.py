"""The inference worker (rgbt_perception/worker.py): the newest pair only, never a queue, and a
stop that cancels the running item within its deadline."""

from __future__ import annotations

import threading

from rgbt_perception.worker import Cancelled, InferenceWorker


def test_a_pair_arriving_while_busy_replaces_the_pending_one():
    started, release, done = threading.Event(), threading.Event(), []

    def process(item):
        started.set()
        release.wait(10)
        done.append(item)

    worker = InferenceWorker(process, cancel=lambda: None)
    worker.start()
    assert worker.submit(1) is False  # nothing pending: not a skip
    assert started.wait(10)  # 1 is running now
    assert worker.submit(2) is False  # pending
    assert worker.submit(3) is True  # replaces 2: skipped
    release.set()
    waited = threading.Event()
    for _ in range(1000):  # until 3 has run too (10 s at most)
        if len(done) == 2 or waited.wait(0.01):
            break
    assert worker.stop(5.0)
    assert done == [1, 3]


def test_stop_cancels_the_running_item_and_ends_the_thread():
    running, cancelled = threading.Event(), threading.Event()

    def process(item):
        running.set()
        if cancelled.wait(10):
            raise Cancelled

    worker = InferenceWorker(process, cancel=cancelled.set)
    worker.start()
    worker.submit("frame")
    assert running.wait(10)
    assert worker.stop(5.0) and not worker.is_alive()
    assert worker.submit("late") is False and worker.pending == "late"  # taken, never run: the thread is gone


def test_stop_reports_a_thread_that_outlives_its_deadline():
    running, release = threading.Event(), threading.Event()

    def process(item):  # ignores cancellation
        running.set()
        release.wait(10)

    worker = InferenceWorker(process, cancel=lambda: None)
    worker.start()
    worker.submit("frame")
    assert running.wait(10)
    assert worker.stop(0.2) is False and worker.is_alive()
    release.set()
    worker.thread.join(10)
    assert not worker.is_alive()
