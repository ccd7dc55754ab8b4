"""The soak's per-minute tables: counts and latencies, and where the time goes."""

from __future__ import annotations

import argparse

import numpy as np
from common import print_table

STAGES = {"stamp age": "stamp age at pairing median (ms)", "hand-off": "hand-off to worker median (ms)",
          "decode": "decode median (ms)", "outside models": "pipeline outside models median (ms)",
          "models": "model median (ms)", "publish": "publish median (ms)"}


def own_stage(minute: dict, name: str) -> float:
    """A stage median of a minute's record; the stamp age less the soak's own 10 s stamp jumps so far."""
    return minute["stages"][name] - (10_000.0 * minute["jumps"] if name == "stamp age" else 0.0)


def print_minutes(args: argparse.Namespace, minutes: list[dict], machine) -> None:
    """The per-minute tables: counts and latencies; where the time goes."""
    faults_text = "thermal dropout, 40 bad messages, stamp jump, 2 s of 4K pairs"
    if args.model_error_every:
        faults_text += f"; a model error every {args.model_error_every} min"
    if args.lifecycle_every:
        faults_text += f"; lifecycle deactivate/activate every {args.lifecycle_every} min"
    print(f"soak: {args.size} SARTM + SAMSOD, 640x512 pairs at {args.rate:.0f} Hz for {args.minutes:g} min, "
          f"faults every minute ({faults_text})")
    print_table(["minute", "sent", "received pairs", "processed", "skipped", "bad", "p50 (ms)", "p95 (ms)",
                 "RSS floor / peak (MB)", "degraded seen"],
                [[i + 1, m["sent"], m["pairs"], m["processed"], m["skipped"], m["bad"], f"{1000 * m['p50']:.0f}",
                  f"{1000 * m['p95']:.0f}", f"{m['rss floor']:.0f} / {m['rss peak']:.0f}", m["degraded"]]
                 for i, m in enumerate(minutes)])
    print("\nwhere the time goes, per minute (the node's stage medians over its last 200 frames, ms; the "
          "probe's publishing lag behind its schedule, ms; CPU used, cores: the node, the probe, the rest of "
          "the machine, steal; the machine's speed: a fixed computation's median time in the probe, ms, and the "
          "node's models timed in a fresh process, ms)")
    print_table(["minute", *STAGES, "heap trims", "probe lag",
                 *(f"CPU {name}" for name in ("node", "probe", "other", "steal")), "reference (ms)",
                 "fresh models (ms)"],
                [[i + 1, *(f"{own_stage(m, name):.1f}" for name in STAGES),
                  m["heap trims"] - (minutes[i - 1]["heap trims"] if i else 0), f"{m['lag']:.1f}",
                  *(f"{value:.2f}" for value in m["cpu"].values()), f"{m['reference']:.1f}",
                  f"{machine.results[i]:.0f}" if i in machine.results else "-"]
                 for i, m in enumerate(minutes)])


def print_control(minutes: list[dict], control: list[dict]) -> None:
    """The aged node's model time against a fresh node's right after (--control-minutes)."""
    tail = minutes[-len(control):]
    aged = float(np.median([m["stages"]["models"] for m in tail]))
    fresh = float(np.median([m["models"] for m in control]))
    aged_ref, fresh_ref = (float(np.median([m["reference"] for m in rows])) for rows in (tail, control))
    print(f"control: models {aged:.0f} ms in the aged node (its last {len(control)} minutes, reference "
          f"{aged_ref:.1f} ms), {fresh:.0f} ms in a fresh node right after (reference {fresh_ref:.1f} ms): "
          f"aged against fresh {100 * (aged / fresh - 1):+.0f} %")

