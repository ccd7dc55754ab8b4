"""A replay worker that dies once, for the fleet's fault tests (importable by Ray's workers)."""

from __future__ import annotations

import os
from pathlib import Path

from rgbt_perception.replay.engines import ReplayWorker
from rgbt_perception.replay.shard import Shard, ShardResult


class ExitOnceWorker(ReplayWorker):
    """Kills its own process in the middle of its first shard of the run: the marker file (beside
    the run's overlay folder, so one per test) says it already did."""

    def run(self, shard: Shard) -> ShardResult:
        marker = Path(self.settings.overlay_dir).parent / "a-worker-exited"
        if not marker.exists():
            marker.write_text(shard.key)
            os._exit(1)
        return super().run(shard)
