"""rgbt-replay: run the perception stack over recorded bags and report accuracy and latency.

Offline (default): frames are read with `rosbags`, paired by the node's synchronizer (and, as
the node does, RGB frames without thermal for thermal.timeout go through the degraded path),
then run through the node's own pipeline. Camera topics may be sensor_msgs/Image or
CompressedImage. With ground truth (label / saliency-mask topics in the bag, or --truth-dir)
the model library's metrics are reported, optionally also without thermal
(--compare-without-thermal). Always: per-stage latency, counts, overlays (+ MP4), a per-frame
CSV, summary.json and report.md. --record OUT.mcap writes the outputs to a bag. --live plays
the bag into a running node instead (see live.py).

Many bags (folders of bags, globs) give one report over all of them with a section per bag, in
this process (--engine serial) or on Ray workers (--engine ray: a local cluster, or --address),
whole bags or --window shards, with --resume after a killed run: docs/fleet.md.
"""

# The console entry point: arguments are parsed before torch and the models load (offline.py
# and live.py are imported after), so that --help and a usage error answer at once.

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rgbt_models.cli.pipes import quiet_on_closed_pipe
from rgbt_models.fleet import add_engine_arguments
from rgbt_models.runtime import threads as thread_policy

SOURCE_CONFIG = Path(__file__).resolve().parents[2] / "config" / "rgbt.yaml"


def default_config() -> Path | None:
    """The node's shipped parameter file: the installed package's share/rgbt_perception/config
    (a colcon or apt install), else the source tree's; None where neither exists (the node's
    declared defaults are used)."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

        try:
            installed = Path(get_package_share_directory("rgbt_perception")) / "config" / "rgbt.yaml"
            if installed.is_file():
                return installed
        except (PackageNotFoundError, LookupError, OSError):  # not installed; or no AMENT_PREFIX_PATH at all
            pass
    except ImportError:
        pass
    return SOURCE_CONFIG if SOURCE_CONFIG.is_file() else None


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The module docstring as written, and each option's default value (where it has one) in --help."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, False, "", [], argparse.SUPPRESS) and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="rgbt-replay", description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("bag", nargs="+", help="rosbag2 folders or files (mcap or sqlite3), folders of bags, or "
                        "globs; several are replayed as one fleet (one report, a section per bag)")
    parser.add_argument("--config", help="node parameter YAML (default: the installed package's "
                        "share/rgbt_perception/config/rgbt.yaml, else the source tree's config/rgbt.yaml)")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="NAME:=VALUE",
                        help="override a node parameter, as ros2 run -p does")
    parser.add_argument("--rgb-topic", default="/camera/rgb/image",
                        help="the bag's RGB topic, as --topics (or `ros2 bag info`) lists it")
    parser.add_argument("--thermal-topic", default="/camera/thermal/image", help="the bag's thermal topic")
    parser.add_argument("--topics", action="store_true",
                        help="list each bag's topics, their types and message counts, and stop")
    parser.add_argument("--label-topic", help="semantic ground truth (mono8 class ids, RGB stamps)")
    parser.add_argument("--mask-topic", help="saliency ground truth (mono8 0/255, RGB stamps)")
    parser.add_argument("--label-classes", help="class list of the semantic ground truth (preset name or YAML); "
                        "compared with the SARTM checkpoint's (default: taken to be the checkpoint's, ids checked)")
    parser.add_argument("--class-mapping", help="YAML 'mapping: {label class: model class | ignore}' for labels "
                        "with another class list (needs --label-classes)")
    parser.add_argument("--truth-dir", help="folder of ground-truth PNGs instead of topics: labels/ and/or masks/")
    parser.add_argument("--truth-key", choices=("stamp", "index"), default="stamp",
                        help="truth file names: the RGB stamp in ns, or the frame index")
    parser.add_argument("--output", default="replay_out", help="folder of the report, CSV, overlays and video")
    parser.add_argument("--overlay-every", type=int, default=10, help="write every Nth overlay PNG (0: none)")
    parser.add_argument("--no-video", action="store_true")
    parser.add_argument("--compare-without-thermal", action="store_true",
                        help="also evaluate saliency from the RGB-only head and SARTM with thermal blanked")
    parser.add_argument("--record", help="write the outputs to a bag: OUT.mcap writes the bag folder OUT/ in mcap, "
                        "OUT the folder OUT/ in sqlite3")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --record bag")
    parser.add_argument("--max-frames", type=int)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (never one off a terminal)")
    parser.add_argument("--threads", type=thread_policy.argument, help=thread_policy.THREADS_HELP +
                        " (default: the threads parameter of --config)")
    add_engine_arguments(parser, "the models")
    fleet = parser.add_argument_group("many bags (docs/fleet.md)")
    fleet.add_argument("--window", type=float, metavar="SECONDS",
                       help="cut each bag into windows of this many seconds of RGB stamps (one shard each)")
    fleet.add_argument("--resume", action="store_true",
                       help="continue a killed run in the same --output: finished shards are not run again")
    mining = parser.add_argument_group("the frames most worth labelling (docs/mining.md)")
    mining.add_argument("--mine", type=int, default=0, metavar="N",
                        help="write the N frames of highest label-free uncertainty to OUTPUT/mined/ (images, "
                             "manifest.csv, a CVAT task)")
    mining.add_argument("--mine-gap", type=float, default=2.0, metavar="SECONDS",
                        help="at most one mined frame per this many seconds of a bag")
    parser.add_argument("--live", action="store_true", help="play into a running node over rclpy")
    parser.add_argument("--rate", type=float, default=1.0, help="--live playback speed")
    parser.add_argument("--namespace", default="", help="--live: the node's namespace (its outputs are read there)")
    args = parser.parse_args(argv)
    if args.mine < 0 or args.mine_gap < 0:
        parser.error("--mine and --mine-gap take numbers >= 0")
    if args.live and args.mine:
        parser.error("--mine works on an offline replay (the frames' uncertainty comes from the report)")
    if args.live:
        if len(args.bag) != 1:
            parser.error("--live plays one bag into the node")
        args.bag = args.bag[0]
    return args


def parse_overrides(items: list[str]) -> dict:
    """-p NAME:=VALUE items as {name: YAML value}."""
    import yaml

    out = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep:
            raise ValueError(f"-p {item!r}: expected NAME:=VALUE")
        out[name] = yaml.safe_load(value)
    return out


def list_topics(arguments: list[str]) -> int:
    """rgbt-replay --topics: what `ros2 bag info` shows of each bag's topics (the pip route has no ros2)."""
    from rgbt_models.data.bag_reader import open_bag
    from rgbt_models.data.sample import DatasetError
    from rgbt_perception.replay.plan import expand_bags

    try:
        for bag in expand_bags(arguments):
            with open_bag(bag) as source:
                counts, types = source.message_counts, source.topics
            print(bag)
            width = max(map(len, types), default=0)
            for topic in sorted(types):
                print(f"  {topic:<{width}}  {types[topic]}  {counts.get(topic, 0)} messages")
    except (DatasetError, OSError) as error:
        print(f"rgbt-replay: {error}", file=sys.stderr)
        return 2
    return 0


@quiet_on_closed_pipe
def main(argv: list[str] | None = None) -> int:
    """rgbt-replay: exit status 0, or 2 with one line naming the problem."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.topics:
        return list_topics(args.bag if isinstance(args.bag, list) else [args.bag])
    from rgbt_models.data.datasets import DatasetError
    from rgbt_models.fleet import FleetError
    from rgbt_models.runtime.loading import ModelLoadError
    from rgbt_perception.parameters import load_parameter_file

    earlier_report = (Path(args.output) / ("live_summary.json" if args.live else "summary.json")).exists()
    try:
        config = args.config or default_config()
        params = load_parameter_file(config, parse_overrides(args.param))
        if args.live:
            from rgbt_perception.replay.live import ReplayInterrupted, replay_live

            try:
                summary = replay_live(args, params)
            except ReplayInterrupted as stopped:
                print(f"rgbt-replay: {stopped}", file=sys.stderr)
                return 130
        else:
            from rgbt_perception.replay.offline import replay_offline

            summary = replay_offline(args, params)
    except (DatasetError, ModelLoadError, ValueError, OSError, FleetError) as error:  # ConfigError: a ValueError
        print(f"rgbt-replay: {error}", file=sys.stderr)
        return 2
    print(summary["markdown"])
    written = "live_report.md and live_summary.json" if args.live else "report, CSV and overlays"
    print(f"\nrgbt-replay: {written} in {Path(args.output).resolve()}"
          + (" (an earlier run's report there replaced)" if earlier_report else "")
          + (f"; outputs bag {summary['record']}" if summary.get("record") else ""))
    if summary.get("mined"):
        mined = summary["mined"]
        print(f"rgbt-replay: {mined['frames']} frames most worth labelling in {mined['folder']} (manifest.csv; "
              "cvat/task.zip and cvat/labels.json for a CVAT task: docs/mining.md)")
    for failed in summary.get("failed_bags", []):
        print(f"rgbt-replay: {failed['bag']} could not be read: {failed['error']}", file=sys.stderr)
    if summary.get("interrupted"):
        print(f"rgbt-replay: stopped by a signal after {summary['pairs_published']} pairs: the report covers those",
              file=sys.stderr)
        return 130
    if args.live and not summary["outputs_received"]:
        print(f"rgbt-replay: the node answered none of the {summary['pairs_published']} pairs on "
              f"{summary['output_topic']}: is it running with a model, in namespace "
              f"{args.namespace or '/'}, with its inputs remapped to {args.rgb_topic} and {args.thermal_topic}? "
              "Or still on its first frames (large models take seconds a frame on a CPU: its log says)",
              file=sys.stderr)
        return 1
    return 1 if summary.get("failed_bags") else 0


if __name__ == "__main__":
    sys.exit(main())
