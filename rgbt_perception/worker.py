"""The inference worker: one thread that runs the newest pair, never a queue of old ones.

`submit` hands a pair over from the executor's callbacks (a pair arriving while the models are
busy replaces the pending one: it is skipped, and `submit` says so); the thread takes the
pending pair and calls `process(item)`; `stop` cancels a running inference through `cancel`
(the pipeline stops at its next module boundary) and waits for the thread up to a deadline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Cancelled(Exception):
    """Raised by `process` when the running item was cancelled: the worker ends."""


class InferenceWorker:
    def __init__(self, process: Callable[[object], None], cancel: Callable[[], None],
                 name: str = "rgbt_inference") -> None:
        self.process, self.cancel = process, cancel
        self.condition = threading.Condition()
        self.pending: object | None = None
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def submit(self, item: object) -> bool:
        """Make `item` the next one to run; True when it replaced a pending item (skipped)."""
        with self.condition:
            replaced = self.pending is not None
            self.pending = item
            self.condition.notify()
        return replaced

    def _run(self) -> None:
        while True:
            with self.condition:
                while self.pending is None and not self.stopping:
                    self.condition.wait(0.2)
                if self.stopping:
                    return
                item, self.pending = self.pending, None
            try:
                self.process(item)
            except Cancelled:
                return

    def stop(self, deadline: float) -> bool:
        """Take no more items, cancel the running one and wait up to `deadline` s; whether the
        thread has ended."""
        with self.condition:
            self.stopping = True
            self.pending = None
            self.condition.notify_all()
        self.cancel()
        if self.thread.is_alive():
            self.thread.join(timeout=deadline)
        return not self.thread.is_alive()

    def is_alive(self) -> bool:
        return self.thread.is_alive()
