"""rgbt-replay over many bags on Ray (docs/fleet.md): equal to one process, window edges included,
through a worker's death and a driver killed and resumed. One local Ray cluster (2 CPUs) serves
the module."""

from __future__ import annotations

import csv
import itertools
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from rgbt_models.data.drive import DriveConfig, write_drive_bag
from rgbt_perception.replay import main as replay
from rgbt_perception.replay.aggregate import without_timings
from rgbt_perception.testing.node_fixtures import write_test_checkpoints

# Set before Ray is imported (it reads them once): usage statistics off, a private cluster's token in
# memory (not written to ~/.ray), as rgbt-replay --engine ray sets them.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "token")
os.environ.setdefault("RAY_AUTH_TOKEN", "rgbt-fleet-test-" + os.urandom(16).hex())
ray = pytest.importorskip("ray", reason="Ray is the fleet's optional engine (requirements/fleet.txt)")

SMALL = dict(seconds=1.2, fps=10, height=96, width=128, dropout=None)
MODEL_PARAMS = ["-p", "model_height:=96", "-p", "model_width:=128"]


@pytest.fixture(scope="module")
def cluster():
    """One private local cluster for the module."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Four bags (mcap and sqlite3, one compressed, one of 4 s with a thermal dropout and a shutter
    freeze across window edges), the test checkpoints, and the one-process reference run."""
    root = tmp_path_factory.mktemp("fleet")
    bags = [root / "a.mcap.d", root / "b.sqlite3.d", root / "c.png.d", root / "d.long.d"]
    write_drive_bag(bags[0], DriveConfig(**SMALL, seed=1))
    write_drive_bag(bags[1], DriveConfig(**SMALL, seed=2), "sqlite3")
    write_drive_bag(bags[2], DriveConfig(**SMALL, seed=3, compressed="png"))
    write_drive_bag(bags[3], DriveConfig(**SMALL | {"seconds": 4.0, "dropout": (1.5, 3.2)}, seed=4,
                                         freeze=(0.7, 1.3)))
    checkpoints = write_test_checkpoints(root / "ckpt")
    common = [*map(str, bags), *checkpoints, *MODEL_PARAMS, "--label-topic", DriveConfig.label_topic,
              "--mask-topic", DriveConfig.mask_topic, "--no-video", "--overlay-every", "0", "--no-progress",
              "--mine", "4", "--mine-gap", "0.5"]
    assert replay([*common, "--output", str(root / "serial")]) == 0
    return root, common


def outcome(folder):
    """summary.json without what differs between runs of the same frames, and frames.csv's rows
    without their timing columns."""
    summary = without_timings(json.loads((folder / "summary.json").read_text()))
    for key in ("engine", "shards"):
        summary.pop(key)
    for part in summary["per_bag"].values():
        part.pop("shards")
    summary["mined"].pop("folder")
    with (folder / "mined" / "manifest.csv").open() as handle:
        summary["mined"]["manifest"] = list(csv.DictReader(handle))
    summary["mined"]["images"] = {f"{path.parent.name}/{path.name}": path.read_bytes()
                                  for path in sorted((folder / "mined").glob("*/*.png"))}
    with (folder / "frames.csv").open() as handle:
        rows = [{k: v for k, v in row.items() if not k.endswith("_ms")} for row in csv.DictReader(handle)]
    return summary, rows


@pytest.mark.slow
def test_ray_in_windows_equals_one_process(cluster, fleet):
    root, common = fleet
    out = root / "ray"
    assert replay([*common, "--engine", "ray", "--workers", "2", "--window", "1.0", "--output", str(out)]) == 0
    reference, ray_run = outcome(root / "serial"), outcome(out)
    assert ray_run == reference
    summary = json.loads((out / "summary.json").read_text())
    assert summary["shards"] == 3 * 2 + 4  # 1.2 s bags in two windows, the 4 s bag in four
    long_bag = summary["per_bag"][str(root / "d.long.d")]
    assert long_bag["counts"]["degraded"] > 0 and long_bag["counts"]["thermal_frozen"] > 0  # across window edges
    stamps = [(row["bag"], row["stamp_ns"]) for row in ray_run[1]]
    assert len(stamps) == len(set(stamps)) == summary["frames_processed"] == reference[0]["frames_processed"]
    with_thermal = sum(row["degraded"] == "0" for row in ray_run[1])
    assert summary["semantic"]["with thermal"]["frames"] == with_thermal > 0  # SARTM scores frames with thermal
    assert summary["semantic"]["with thermal"]["confusion_matrix"] == \
        json.loads((root / "serial" / "summary.json").read_text())["semantic"]["with thermal"]["confusion_matrix"]
    # --mine: the same frames (and bytes) from both engines, at most one per 0.5 s of a bag
    mined = ray_run[0]["mined"]["manifest"]
    assert len(mined) == 4 and mined == reference[0]["mined"]["manifest"]
    images = ray_run[0]["mined"]["images"]
    assert images == reference[0]["mined"]["images"]
    assert sorted(images) == sorted([f"rgb/{row['rgb'][4:]}" for row in mined]  # no thermal image for a frame
                                    + [row["thermal"] for row in mined if row["thermal"]])  # that had none
    for bag in {row["bag"] for row in mined}:
        stamps = sorted(int(row["stamp_ns"]) for row in mined if row["bag"] == bag)
        assert all(b - a >= 0.5e9 for a, b in itertools.pairwise(stamps))
    live = [row for row in ray_run[1] if row["degraded"] == "0" and row["thermal_frozen"] == "0"]
    ranked = sorted(live, key=lambda row: -float(row["uncertainty"]))
    assert float(mined[0]["uncertainty"]) == float(ranked[0]["uncertainty"])  # the most uncertain live frame first


@pytest.mark.slow
def test_a_worker_that_dies_is_replaced_and_its_shard_run_again(cluster, fleet):
    from rgbt_models.fleet import EngineOptions
    from rgbt_perception.parameters import load_parameter_file
    from rgbt_perception.replay.aggregate import combine
    from rgbt_perception.replay.cli import parse_args, parse_overrides
    from rgbt_perception.replay.engines import run_shards
    from rgbt_perception.replay.plan import expand_bags, plan
    from rgbt_perception.replay.shard import ReplaySettings
    from rgbt_perception.testing.fleet_faults import ExitOnceWorker

    root, common = fleet
    long_bag = str(root / "d.long.d")  # its four windows: enough shards for two workers, one of which dies
    args = parse_args([long_bag, *(a for a in common if not a.endswith(".d")), "--window", "1.0",
                       "--output", str(root / "faults")])
    params = load_parameter_file("config/rgbt.yaml", parse_overrides(args.param))
    (root / "faults" / "overlays").mkdir(parents=True)
    settings = ReplaySettings.from_arguments(args, params, str(root / "faults" / "overlays"))
    shards = plan(expand_bags(args.bag), 1.0, settings, params)
    results = []
    run_shards(shards, params, settings, EngineOptions("ray", workers=2, progress=False), results.append,
               worker_class=ExitOnceWorker)
    assert (root / "faults" / "a-worker-exited").is_file()  # one worker did die
    assert sorted(r.shard.key for r in results) == sorted(s.key for s in shards)  # each shard once
    assert not any(r.error for r in results)
    serial = json.loads((root / "serial" / "summary.json").read_text())["per_bag"][long_bag]
    merged = combine(results)
    assert merged.counts == serial["counts"] and len(merged.rows) == serial["frames_processed"]
    assert merged.semantic["with thermal"].matrix.tolist() == serial["semantic"]["with thermal"]["confusion_matrix"]
    assert merged.saliency["with thermal"].results()["S"] == serial["saliency"]["with thermal"]["S"]


@pytest.mark.slow
def test_a_killed_driver_resumes_where_it_stopped(fleet):
    """The parts and the plan are the driver's, whatever the engine: shown in one process (the
    Ray runs above share the same Parts)."""
    root, common = fleet
    out = root / "resumed"
    driver = subprocess.Popen([sys.executable, "-m", "rgbt_perception.replay", *common, "--window", "1.0",
                               "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts = out / "parts"
    while driver.poll() is None and len(list(parts.glob("*.pkl"))) < 2:
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    finished = {p.name: p.stat().st_mtime_ns for p in parts.glob("*.pkl")}
    assert 2 <= len(finished) < 10, "the driver was to be killed mid-run"
    assert replay([*common, "--window", "1.0", "--output", str(out), "--resume"]) == 0
    assert outcome(out) == outcome(root / "serial")
    assert all((parts / name).stat().st_mtime_ns == mtime for name, mtime in finished.items())  # not run again


@pytest.mark.slow
def test_a_bag_that_cannot_be_read_is_reported_and_the_others_complete(fleet, tmp_path, capsys):
    """A folder of bags (a bag folder, a loose .mcap, a loose file that is no bag): each is its own
    bag and the broken one is reported. Engine-agnostic (the shard reports its bag's error): shown
    in this process."""
    root, common = fleet
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "b").symlink_to(root / "b.sqlite3.d")
    (mixed / "a_solo.mcap").write_bytes(next((root / "a.mcap.d").glob("*.mcap")).read_bytes())
    broken = mixed / "broken.mcap"
    broken.write_bytes(b"not a bag at all")
    rest = [a for a in common if not a.endswith(".d")]
    code = replay([str(mixed), *rest, "--output", str(tmp_path / "out")])
    assert code == 1
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [f["bag"] for f in summary["failed_bags"]] == [str(broken)]
    assert set(summary["per_bag"]) == {str(mixed / "a_solo.mcap"), str(mixed / "b")}
    assert summary["frames_processed"] == 24
    assert f"{broken} could not be read" in capsys.readouterr().err


def test_without_ray_the_engine_says_how_to_install_it(monkeypatch):
    from rgbt_models.fleet import EngineOptions, FleetError, connect

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(FleetError, match="pip install -r requirements/fleet.txt"):
        connect(EngineOptions("ray"))


@pytest.mark.slow
def test_rgbt_eval_on_ray_equals_one_process(cluster, fleet):
    """rgbt-eval over a data set cut into chunks on two workers: the same results.json."""
    from rgbt_models.cli.evaluate import main as evaluate

    root, common = fleet
    checkpoint = next(a.split(":=")[1] for a in common if a.startswith("samsod.checkpoint:="))
    outputs = {}
    for engine in ("serial", "ray"):
        out = root / f"eval_{engine}"
        assert evaluate(["--checkpoint", checkpoint, "--dataset", "synthetic", "--synthetic-count", "10",
                         "--threads", "1", "--no-progress", "--engine", engine, "--chunk", "3",
                         "--output", str(out)]) == 0
        outputs[engine] = json.loads((out / "results.json").read_text())
    assert outputs["ray"] == outputs["serial"] and outputs["ray"]["synthetic[10]"]["images"] == 10
