"""Soak: the node under 30 Hz 640x512 RGB-T for --minutes with faults injected every minute.

Starts the real node (random weights; --size test by default so that each minute holds enough
frames for stable percentiles, --size tiny for the real encoder) and publishes pairs at --rate.
Every minute, at fixed offsets: a 3 s thermal dropout (-> degraded mode), a burst of 40 malformed
messages on both topics (bad encoding, short data, 32FC1 with an odd step), a stamp jump of
10 s backwards (a looping bag: the synchronizer resets), and 2 s of 4K pairs (3840x2160: the
worker stalls on decoding and resizing while the camera keeps coming). With --model-error-every
/ --lifecycle-every (make soak-long) the node is the lifecycle node (soak_target.py) and every N
minutes SAMSOD fails once and the node is deactivated for 3 s and activated again.

Prints per minute: pairs sent, received / processed / skipped / bad (node counters), latency p50 /
p95 (publish -> saliency/map), the node's RSS floor and peak (sampled every second), and where
the time goes: the node's own stage medians from /diagnostics (its last 200 frames: stamp age at
pairing less the soak's own stamp jumps, hand-off, decode, pipeline outside the models, models,
publish, heap trims), the probe's publishing lag behind its schedule, and the CPU the node, the probe, the
rest of the machine and the hypervisor (steal) took, and the machine's speed (a fixed computation
timed in the probe every 10 s; the models' time is correlated with it at the end: r near 1 says the
machine, not the node, moved). Then, per kind of fault, how long the node
took to answer again after it ended (and the evidence that it was handled: degraded mode seen,
the node's counts, no answer while inactive).

Drift is judged by the trend over all minutes, not by two of them: the least-squares slope of the
per-minute p50 and p95 in % of the first minute's fitted value per hour, with its standard error.
On a shared machine (a VM) the host's load moves the latency by tens of % for tens of minutes, so
every --reference-every minutes the node's models are also timed in a fresh process beside it
(soak_reference.py, a few seconds on the other core), and the trends judged are those of the
node's p50 and p95 divided by that fresh time: the node's own drift. The trends as measured and
the fresh process's own trend (the machine's) are printed beside them. It fails when a judged
trend exceeds --max-trend %/h by more than two standard errors, when the RSS floor grows by more
than 50 MB beyond two standard errors (see memory_growth), when a fault is not recovered within
--max-recovery s, or when SIGINT does not stop the node with exit 0. --control-minutes adds, after
the run, a fresh node under the same pairs: the aged node's model time against a fresh node's.
Usage: python benchmarks/soak_node.py [--minutes 10] [--max-trend 20] [--model-error-every N]
[--lifecycle-every N] [--reference-every 2] [--control-minutes N]
"""

from __future__ import annotations

import sys

from soak.run import main

if __name__ == "__main__":
    sys.exit(main())
