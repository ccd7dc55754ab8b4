"""Pairing of RGB and thermal messages (or any stamped items) by time stamp (no ROS needed).

`PairSynchronizer` pairs with the parameters of `message_filters.ApproximateTimeSynchronizer`
(queue_size, slop): the oldest queued message is paired with the closest-in-time message of
the other stream within `slop` (a later message of its own stream that is closer to that
partner takes its place), each message is used at most once, and messages older than an
emitted pair are dropped. Unlike message_filters it emits a pair as soon as one is within
slop instead of waiting for a later message on both topics: one frame less latency on a robot.
Stamps going backwards (a bag restarting) clear both queues; duplicated stamps are dropped.

`LatestPairing` (sync.policy: latest) is for cameras of different rates, e.g. a 9 Hz thermal
camera beside a 30 Hz RGB camera: each RGB frame is paired with the newest thermal frame whose
stamp is within `max_age` of its own, so one thermal frame serves several RGB frames. With the
exact rule only the RGB frames that happen to fall within slop of a thermal frame pair (27 of 90
on a 30 Hz / 9 Hz bag).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


def stamp_seconds(msg) -> float:
    stamp = msg.header.stamp
    return stamp.sec + stamp.nanosec * 1e-9


class StampOrder:
    """The stamp rules both pairings share: a stamp earlier than its stream's last one (a bag
    starting over) resets the pairing; a repeated stamp is dropped (the first message wins)."""

    def _new_stamp(self, stream: int, msg) -> float | None:
        """The message's stamp, or None when it is a duplicate."""
        t = self.stamp_of(msg)
        if t < self.last_stamp[stream]:
            self.reset(f"stamp of stream {stream} went backwards ({self.last_stamp[stream]:.3f} -> {t:.3f})")
        elif t == self.last_stamp[stream]:
            self.dropped += 1
            return None
        self.last_stamp[stream] = t
        return t


class PairSynchronizer(StampOrder):
    """Approximate-time pairing of two streams (stream 0 = RGB, stream 1 = thermal)."""

    def __init__(self, callback: Callable[[object, object], None], queue_size: int = 10, slop: float = 0.05,
                 on_reset: Callable[[str], None] | None = None,
                 stamp_of: Callable[[object], float] = stamp_seconds) -> None:
        """callback(rgb_item, thermal_item) gets each pair; stamp_of(item) gives an item's stamp
        in seconds (default: a message's header stamp)."""
        if queue_size < 1 or slop < 0:
            raise ValueError("queue_size must be >= 1 and slop >= 0")
        self.callback, self.queue_size, self.slop, self.on_reset = callback, queue_size, slop, on_reset
        self.stamp_of = stamp_of
        self.queues: tuple[deque, deque] = (deque(), deque())
        self.last_stamp = [float("-inf"), float("-inf")]
        self.dropped = 0

    def reset(self, reason: str) -> None:
        self.dropped += len(self.queues[0]) + len(self.queues[1])
        for queue in self.queues:
            queue.clear()
        self.last_stamp = [float("-inf"), float("-inf")]
        if self.on_reset:
            self.on_reset(reason)

    def set_slop(self, slop: float) -> None:
        """A new slop for the pairs formed from now on."""
        if slop < 0:
            raise ValueError("slop must be >= 0")
        self.slop = slop

    def add(self, stream: int, msg) -> None:
        t = self._new_stamp(stream, msg)
        if t is None:
            return
        queue = self.queues[stream]
        queue.append((t, msg))
        if len(queue) > self.queue_size:
            queue.popleft()
            self.dropped += 1
        self._match()

    def unmatched(self) -> int:
        """Messages dropped or still queued without a partner."""
        return self.dropped + len(self.queues[0]) + len(self.queues[1])

    def set_max_age(self, max_age: float) -> None:
        """(sync.max_age applies to the latest policy only.)"""

    def _match(self) -> None:
        rgb, thermal = self.queues
        while rgb and thermal:
            # The oldest message overall is matched first, with its nearest partner.
            pivot_stream = 0 if rgb[0][0] <= thermal[0][0] else 1
            pivot_t, pivot = self.queues[pivot_stream][0]
            others = self.queues[1 - pivot_stream]
            best = min(range(len(others)), key=lambda i: abs(others[i][0] - pivot_t))
            if abs(others[best][0] - pivot_t) <= self.slop:
                # A later pivot-stream message might still be closer to that partner.
                partner_t, partner = others[best]
                same = self.queues[pivot_stream]
                if len(same) > 1 and abs(same[1][0] - partner_t) < abs(pivot_t - partner_t):
                    same.popleft()
                    self.dropped += 1
                    continue
                self.queues[pivot_stream].popleft()
                for _ in range(best + 1):
                    others.popleft()
                self.dropped += best
                pair = (pivot, partner) if pivot_stream == 0 else (partner, pivot)
                self.callback(*pair)
            elif others[-1][0] > pivot_t + self.slop:
                self.queues[pivot_stream].popleft()  # no partner can come for it any more
                self.dropped += 1
            else:
                return


class LatestPairing(StampOrder):
    """sync.policy latest: each RGB frame (stream 0) with the newest thermal frame (stream 1)
    whose stamp is within `max_age` s of the RGB stamp. An RGB frame without one waits for the
    next thermal frame (a thermal camera triggered with the RGB one arrives just after it) and is
    dropped, counted, when the next RGB frame comes first or that thermal frame is too far. The
    same interface as PairSynchronizer (add, dropped, reset)."""

    def __init__(self, callback: Callable[[object, object], None], max_age: float = 0.15,
                 on_reset: Callable[[str], None] | None = None,
                 stamp_of: Callable[[object], float] = stamp_seconds) -> None:
        if max_age < 0:
            raise ValueError("max_age must be >= 0")
        self.callback, self.max_age, self.on_reset, self.stamp_of = callback, max_age, on_reset, stamp_of
        self.latest: tuple[float, object] | None = None
        self.waiting: tuple[float, object] | None = None  # an RGB frame without a thermal frame yet
        self.last_stamp = [float("-inf"), float("-inf")]
        self.dropped = 0

    def reset(self, reason: str) -> None:
        self.latest = None
        self.dropped += self.waiting is not None
        self.waiting = None
        self.last_stamp = [float("-inf"), float("-inf")]
        if self.on_reset:
            self.on_reset(reason)

    def set_slop(self, slop: float) -> None:
        """(sync.slop does not apply to this policy: sync.max_age does.)"""

    def set_max_age(self, max_age: float) -> None:
        if max_age < 0:
            raise ValueError("max_age must be >= 0")
        self.max_age = max_age

    def add(self, stream: int, msg) -> None:
        t = self._new_stamp(stream, msg)
        if t is None:
            return
        if stream == 1:
            self.latest = (t, msg)
            if self.waiting is not None:
                waiting, self.waiting = self.waiting, None
                if abs(t - waiting[0]) <= self.max_age:
                    self.callback(waiting[1], msg)
                else:
                    self.dropped += 1
            return
        if self.waiting is not None:  # superseded before any thermal frame came for it
            self.dropped += 1
            self.waiting = None
        if self.latest is not None and abs(t - self.latest[0]) <= self.max_age:
            self.callback(msg, self.latest[1])
        else:
            self.waiting = (t, msg)

    def unmatched(self) -> int:
        """RGB frames that were (or, waiting at the end, will never be) paired with no thermal frame."""
        return self.dropped + (self.waiting is not None)


SYNC_POLICIES = ("exact", "latest")


def make_pairing(policy: str, callback: Callable[[object, object], None], queue_size: int, slop: float,
                 max_age: float, on_reset: Callable[[str], None] | None = None,
                 stamp_of: Callable[[object], float] = stamp_seconds):
    """The pairing of `policy` (sync.policy): exact (PairSynchronizer) or latest (LatestPairing)."""
    if policy == "latest":
        return LatestPairing(callback, max_age, on_reset, stamp_of)
    if policy != "exact":
        raise ValueError(f"sync.policy must be one of {SYNC_POLICIES}, got {policy!r}")
    return PairSynchronizer(callback, queue_size, slop, on_reset, stamp_of)
