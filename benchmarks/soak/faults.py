"""The soak's fault schedule within each minute, the malformed messages it sends, and the table of
how each kind of fault was recovered from."""

from __future__ import annotations

import numpy as np

from rgbt_perception.testing.node_fixtures import image_msg


def bad_messages(count: int) -> list[tuple[int, object]]:
    """(stream, message) pairs of malformed images of several kinds."""
    out = []
    for i in range(count):
        kind = i % 3
        if kind == 0:
            msg = image_msg(np.zeros((8, 8, 3), np.uint8), "yuv422", 0, 0)
        elif kind == 1:
            msg = image_msg(np.zeros((64, 64), np.uint16), "mono16", 0, 0)
            msg.data = msg.data[:100]
        else:
            msg = image_msg(np.zeros((64, 64), np.float32), "32FC1", 0, 0)
            msg.step, msg.data = 257, np.zeros(257 * 64 + 1, np.uint8).tobytes()
        out.append((i % 2, msg))
    return out


class Faults:
    """The soak's fault schedule within each minute (seconds), and the record of what was injected
    and when it ended (monotonic), from which recovery is judged at the end."""

    DROPOUT = (10, 13)  # thermal silent -> degraded mode, back to full mode after
    BURST = 20  # 40 malformed messages
    JUMP = 30  # stamps 10 s back
    BIG = (45, 47)  # 4K pairs
    MODEL_ERROR = 52  # SAMSOD raises once (soak_target's service), in the minutes chosen by --model-error-every
    LIFECYCLE = (54, 57)  # deactivate, activate (lifecycle services), in the minutes chosen by --lifecycle-every
    MACHINE = 1  # not a fault: the fresh-process reference starts (soak_reference.py), every --reference-every min

    def __init__(self) -> None:
        self.events: list[dict] = []  # kind, minute, start, end
        self.done: set[tuple[str, int]] = set()  # (fault, minute) injected

    def due(self, kind: str, minute: int, second: float, at: float, every: int = 1) -> bool:
        """Whether `kind` is to be injected now: at or after second `at` of the minute, once, in
        every `every`-th minute, from the middle of the first such span (minutes counted from 0: every
        10 is minutes 5, 15, ...; 0: never)."""
        if every and minute % every == every // 2 and second >= at and (kind, minute) not in self.done:
            self.done.add((kind, minute))
            return True
        return False

    def begin(self, kind: str, minute: int, now: float) -> dict:
        event = {"kind": kind, "minute": minute, "start": now, "end": now}
        self.events.append(event)
        return event


def recovery_table(faults: Faults, latencies: list[tuple[float, float]], diagnostics: list[tuple[float, bool]],
                   final: dict, limit: float) -> tuple[list[list], list[str]]:
    """Per kind of fault: how many, how many recovered within `limit` s, median and worst time to
    recover, and what shows it. Recovered: a saliency answer came for a pair published after the
    fault ended (thermal dropout: also /diagnostics no longer degraded; model error: also counted
    by the node; lifecycle: also no answer to the pairs published while inactive)."""
    answers = np.array([(arrival, arrival - latency) for arrival, latency in latencies if np.isfinite(latency)])
    answers = answers[np.argsort(answers[:, 1])] if len(answers) else np.zeros((0, 2))

    def first_answer_after(t: float) -> float:
        later = answers[answers[:, 1] >= t, 0]
        return float(later.min()) if later.size else float("inf")

    def full_mode_after(t: float) -> float:
        return next((arrival for arrival, degraded in diagnostics if arrival >= t and not degraded), float("inf"))

    rows, missed = [], []
    for kind in dict.fromkeys(event["kind"] for event in faults.events):
        events = [e for e in faults.events if e["kind"] == kind]
        times, evidence = [], ""
        for event in events:
            back = first_answer_after(event["end"])
            if kind == "thermal dropout":
                back = max(back, full_mode_after(event["end"]))
            times.append(back - event["end"])
        if kind == "thermal dropout":
            seen = sum(e.get("degraded_seen", False) for e in events)
            evidence = f"degraded seen in {seen}/{len(events)}"
            if seen < len(events):
                missed.append(f"degraded mode not reported in {len(events) - seen} thermal dropouts")
        elif kind == "malformed burst":  # best effort, depth 5: the node sees only some of each burst
            evidence = f"node counted {final.get('bad', '?')} bad messages of {40 * len(events)} sent"
            if int(final.get("bad", 0)) == 0:
                missed.append("the node counted no bad message")
        elif kind == "model error":
            evidence = f"node counted {final.get('model_errors', '?')} model errors of {len(events)} injected"
            if int(final.get("model_errors", -1)) != len(events):
                missed.append(f"{final.get('model_errors')} model errors counted, {len(events)} injected")
        elif kind == "lifecycle deactivate/activate":
            sent = answers[:, 1]  # a pair in flight when the deactivation came may still be answered: 0.5 s
            while_inactive = sum(int(((sent > e["start"] + 0.5) & (sent < e.get("inactive_until", e["start"]))).sum())
                                 for e in events)
            evidence = f"{while_inactive} answers to pairs sent while inactive"
            if while_inactive:
                missed.append(f"the node answered {while_inactive} pairs while inactive")
        recovered = sum(t <= limit for t in times)
        if recovered < len(events):
            missed.append(f"{kind}: {len(events) - recovered} of {len(events)} not recovered within {limit:g} s")
        finite = [t for t in times if np.isfinite(t)]
        rows.append([kind, len(events), recovered, f"{np.median(finite):.2f}" if finite else "-",
                     f"{max(times):.2f}" if times else "-", evidence])
    return rows, missed

