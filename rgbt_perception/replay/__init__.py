"""rgbt-replay: the perception stack over recorded bags.

Rooms: `cli` (arguments; the console script, answers --help without loading torch),
`offline` (the bag through the node's codec, synchronizer and pipeline: metrics, latency,
overlays), `live` (the bag played into a running node over rclpy), `report` (every file the
tool writes, Markdown included) and `recording` (--record: outputs as a bag, messages built by
rgbt_perception.outputs as the node builds them).
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """rgbt-replay with `argv` (see cli.main)."""
    from rgbt_perception.replay.cli import main as cli_main

    return cli_main(argv)
