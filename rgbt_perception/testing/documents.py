"""The commands the documents tell a person to type, run as tests (test/test_readme_commands.py,
test/test_guide_commands.py).

Every ```bash block of README.md and docs/*.md is one pytest item named after its file and line,
and so is every ```python block (run by the pip route's python in the same folder).
An HTML comment on the line before the fence says how it runs:

    (none)                          run with bash -e in a fresh folder (below); exit 0 expected
    <!-- doc-test: node rgb=TOPIC thermal=TOPIC expect=TOPIC -->
                                    the block starts the node: camera pairs are published on the two
                                    topics until a message arrives on `expect`, then SIGINT; exit 0
    <!-- doc-test: node expect=TOPIC feed=next -->
                                    as above, but the document's next block (a second shell: the
                                    replay of a bag into the node) feeds it: it must exit 0 and a
                                    message must arrive on `expect` meanwhile; it is not run alone
    <!-- doc-test: bench: REASON --> too slow for make test; make bench (pytest -m bench) runs it
    <!-- doc-test: skip: REASON -->  cannot run here (apt, a GPU, `ros2 launch` without launch_ros ...)

The folder is what a user has after cloning and `make setup`: the repository's tracked top-level
entries and .venv linked into it (not what earlier runs left in the checkout), and the pip
route's PATH (.venv/bin first).
Each document makes its own stand-ins in a block of its own, as its reader would (the demo's
checkpoints, synthetic drives, a CVAT export); the harness adds only, for make bench, the
authors' weight files (seeded, in their layout). The blocks of one document run
in order in one folder, as a reader follows it (homography.yaml from one block, used by the next).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from rgbt_perception.testing.ros_harness import REPO_ROOT

FENCE = re.compile(r"^```(bash|sh|shell|python)\s*$")
MARKER = re.compile(r"^<!--\s*doc-test:\s*(node|bench|skip)\b:?\s*(.*?)\s*-->\s*$")
KINDS = ("run", "node", "bench", "skip")


@dataclass
class Block:
    """One shell block of a document."""

    path: Path
    line: int  # of the opening fence, 1-based
    code: str
    kind: str = "run"  # one of KINDS
    language: str = "bash"  # bash (sh, shell) or python: how a run block is run
    reason: str = ""  # bench / skip: why it does not run in make test
    options: dict[str, str] = field(default_factory=dict)  # node: rgb, thermal, expect, or expect, feed
    feeder: Block | None = None  # node with feed=next: the block run beside it

    @property
    def name(self) -> str:
        path = self.path.relative_to(REPO_ROOT) if self.path.is_relative_to(REPO_ROOT) else self.path.name
        return f"{path}:{self.line}"

    @property
    def first_command(self) -> str:
        """Its first command, without comments, continuation or the pip route's activation."""
        lines = [line.split(" #")[0].rstrip(" \\").strip() for line in self.code.splitlines()]
        return next(line for line in lines if line and not line.startswith(("#", "source .venv")))


def documents() -> list[Path]:
    return [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """The shell blocks of one Markdown file with their markers; ValueError for a marker that says
    nothing (bench / skip without a reason, node without its topics) or one not before a block."""
    lines = path.read_text().splitlines()
    found, index, feeds = [], 0, None
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if fence:
            end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
            block = Block(path, index + 1, "\n".join(lines[index + 1:end]) + "\n",
                          language="python" if fence.group(1) == "python" else "bash")
            marker = MARKER.match(lines[index - 1]) if index else None
            if marker:
                block.kind, rest = marker.group(1), marker.group(2)
                if block.kind == "node":
                    block.options = dict(part.split("=", 1) for part in rest.split())
                    if set(block.options) not in ({"rgb", "thermal", "expect"}, {"expect", "feed"}) \
                            or block.options.get("feed", "next") != "next":
                        raise ValueError(f"{block.name}: a node block names rgb=, thermal= and expect=, "
                                         "or expect= and feed=next")
                else:
                    block.reason = rest
                    if not rest:
                        raise ValueError(f"{block.name}: a {block.kind} block says why it does not run here")
            if feeds is not None:
                if marker:
                    raise ValueError(f"{block.name}: the block that feeds {feeds.name} carries no marker")
                feeds.feeder, feeds = block, None
            else:
                found.append(block)
                feeds = block if block.options.get("feed") else None
            index = end
        elif MARKER.match(lines[index]) and not FENCE.match(lines[index + 1] if index + 1 < len(lines) else ""):
            raise ValueError(f"{path.name}:{index + 1}: a doc-test marker must stand just before a ```bash fence")
        index += 1
    if feeds is not None:
        raise ValueError(f"{feeds.name}: feed=next, but no block follows")
    return found


def all_blocks(paths: list[Path] | None = None) -> list[Block]:
    return [block for path in paths or documents() for block in blocks(path)]


def prepare_authors_files(folder: Path) -> None:
    """The authors' released files as make bench stands them in (weights.md's own block makes
    them too): their layout with seeded weights, under the names they release them by."""
    from rgbt_models.importing.seeded import write_authors_stand_in

    for method, name in (("samsod", "sam_rgbt.pth"), ("sartm", "SARMT_PST_89.88.pth")):
        write_authors_stand_in(method, folder / name)


def user_folder(folder: Path) -> Path:
    """A fresh folder as after `git clone` and `make setup`: the repository's tracked top-level
    entries and .venv linked into it. What a developer's own runs left in the checkout (drive/,
    samsod.pt ...) is not linked: a block would find it there, and write through the link."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in sorted(tracked_top_level() | {".venv"}):
        if (REPO_ROOT / name).exists():
            (folder / name).symlink_to(REPO_ROOT / name)
    return folder


def tracked_top_level() -> set[str]:
    """The top-level files and folders git tracks in the repository (a fresh clone's)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True).stdout
    return {path.split(b"/", 1)[0].decode() for path in listed.split(b"\0") if path}


def user_environment(ros_env: dict[str, str]) -> dict[str, str]:
    """The pip route's shell after `source .venv/bin/activate`, on the test session's ROS domain."""
    env = {**os.environ, **ros_env}
    venv = REPO_ROOT / ".venv"
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    env["VIRTUAL_ENV"] = str(venv)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


def run_block(block: Block, folder: Path, env: dict[str, str], timeout: float = 420.0) -> subprocess.CompletedProcess:
    """Run a plain block; the completed process (stdout and stderr together)."""
    run = ["python", "-c"] if block.language == "python" else ["bash", "-euo", "pipefail", "-c"]
    return subprocess.run([*run, block.code], cwd=folder, env=env, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout)


def run_node_block(block: Block, folder: Path, env: dict[str, str], context, timeout: float = 180.0) -> tuple[int, str]:
    """Start a node block, publish camera pairs on its topics until a message arrives on its
    `expect` topic, stop it with SIGINT; (exit status, what it printed). AssertionError when no
    message arrived within `timeout` s."""
    log = folder.parent / f"{folder.name}.node.log"  # beside the reader's folder: the harness's
    with open(log, "w") as out:
        process = subprocess.Popen(["bash", "-euo", "pipefail", "-c", block.code], cwd=folder, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        if block.feeder is not None:
            received, fed = feed_and_listen(block, folder, env, context, process, timeout)
            assert fed.returncode == 0, (f"{block.feeder.name} (feeding {block.name}) exited {fed.returncode}:\n"
                                         f"{fed.stdout[-4000:]}\nnode:\n{log.read_text()[-4000:]}")
        else:
            received = publish_until_output(block.options, context, process, timeout)
        assert received, f"no message on {block.options['expect']} within {timeout} s:\n{log.read_text()[-4000:]}"
        os.killpg(process.pid, signal.SIGINT)
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return code, log.read_text()


@contextlib.contextmanager
def listening(context, name: str, topic: str):
    """An rclpy node `name` subscribed to `topic` (sensor-data QoS) and its executor, for the
    block's run: (node, executor, the messages received)."""
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    node = Node(name, context=context)
    received: list = []
    node.create_subscription(Image, topic, received.append, qos_profile_sensor_data)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        yield node, executor, received
    finally:
        executor.shutdown()
        node.destroy_node()


def feed_and_listen(block: Block, folder: Path, env: dict[str, str], context, node,
                    timeout: float) -> tuple[bool, subprocess.CompletedProcess]:
    """Run the block's feeder (a second shell) while the node runs, listening on `expect`;
    (whether a message arrived, the feeder's completed process)."""
    log = folder.parent / f"{folder.name}.feeder.log"
    with listening(context, "doc_test_listener", block.options["expect"]) as (_, executor, received):
        with open(log, "w") as out:
            feeder = subprocess.Popen(["bash", "-euo", "pipefail", "-c", block.feeder.code], cwd=folder, env=env,
                                      stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while feeder.poll() is None and node.poll() is None and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        if feeder.poll() is None:
            feeder.kill()
        feeder.wait()
        return bool(received), subprocess.CompletedProcess(feeder.args, feeder.returncode, log.read_text())


def publish_until_output(options: dict[str, str], context, process, timeout: float) -> bool:
    """Publish 5 Hz synthetic pairs (rgb8, mono16 centi-kelvin) until `expect` carries a message."""
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    from rgbt_perception.testing.node_fixtures import scene_pair

    with listening(context, "doc_test_cameras", options["expect"]) as (node, executor, received):
        rgb = node.create_publisher(Image, options["rgb"], qos_profile_sensor_data)
        thermal = node.create_publisher(Image, options["thermal"], qos_profile_sensor_data)
        deadline, index = time.monotonic() + timeout, 0
        while not received and time.monotonic() < deadline and process.poll() is None:
            pair = scene_pair(index % 8, 100 + index // 5, (index % 5) * 200_000_000)
            rgb.publish(pair[0])
            thermal.publish(pair[1])
            index += 1
            end = time.monotonic() + 0.2
            while time.monotonic() < end and not received:
                executor.spin_once(timeout_sec=0.05)
        return bool(received)


def block_params(paths: list[Path]) -> list:
    """pytest parameters, one per block, named after its file and line, marked by its kind."""
    import pytest

    marks = {"run": [pytest.mark.slow], "node": [pytest.mark.slow, pytest.mark.ros]}
    params = []
    for block in all_blocks(paths):
        mark = (pytest.mark.skip(reason=f"not run here: {block.reason}") if block.kind == "skip" else
                pytest.mark.bench if block.kind == "bench" else None)
        params.append(pytest.param(block, id=block.name, marks=[mark] if mark else marks[block.kind]))
    return params


RAN: dict[Path, set[int]] = {}  # reader's folder -> the lines of the blocks run in it


def check_block(block: Block, folder: Path, ros_env: dict[str, str], context_factory) -> str:
    """Run a block as a user would and check it did what it says; what it printed. A bench block
    (make bench runs those alone) first runs the document's earlier plain blocks not yet run in
    the folder: the reader ran them before it (the drives and checkpoints it uses)."""
    env = user_environment(ros_env)
    ran = RAN.setdefault(folder, set())
    if block.kind == "bench":
        for earlier in blocks(block.path):
            if earlier.line < block.line and earlier.kind == "run" and earlier.line not in ran:
                check_block(earlier, folder, ros_env, context_factory)
    if block.kind == "bench" and "-authors" in block.code and not (folder / "sam_rgbt.pth").exists():
        prepare_authors_files(folder)
    if block.kind == "node":
        code, printed = run_node_block(block, folder, env, context_factory())
        assert code == 0, f"{block.name}: the node ended with {code} after SIGINT:\n{printed[-4000:]}"
        for checkpoint in re.findall(r"(?:samsod|sartm)[._]checkpoint:=(\S+)", block.code):
            loaded = Path(checkpoint) if Path(checkpoint).is_absolute() else folder / checkpoint
            assert f"loaded {loaded}" in printed, f"{block.name}: the node did not log the absolute path it loaded"
    else:
        result = run_block(block, folder, env)
        assert result.returncode == 0, f"{block.name} exited {result.returncode}:\n{result.stdout[-6000:]}"
        printed = result.stdout
    left = not_ignored(folder)
    assert not left, f"{block.name} leaves {left} in the reader's checkout, where git shows it: add to .gitignore"
    ran.add(block.line)
    return printed


def not_ignored(folder: Path) -> list[str]:
    """What the commands wrote at the top of a reader's folder (not the repository's own entries)
    that the repository's .gitignore does not cover."""
    made = sorted(p.name for p in folder.iterdir() if not p.is_symlink())
    if not made:
        return []
    result = subprocess.run(["git", "check-ignore", "--no-index", *made], cwd=REPO_ROOT, capture_output=True,
                            text=True)
    return sorted(set(made) - set(result.stdout.split()))


def written_paths(paths: list[Path] | None = None) -> set[str]:
    """The top-level files and folders the documents' commands write in the reader's folder (their
    --output / --record / -o targets, stand-in drives, copied checkpoints, CVAT stand-ins)."""
    names = set()
    for block in all_blocks(paths):
        code = block.code + (block.feeder.code if block.feeder else "")
        found = re.findall(r"(?:--output(?:-dir)?|--record|-o)\s+(\S+)", code)
        found += re.findall(r"data\.drive\s+(\S+)", code) + re.findall(r"\bcp \S+ (\S+)", code)
        found += re.findall(r"cvat_exports \S+ (\S+)", code)
        for line in code.splitlines():  # the tools' default outputs
            if line.startswith("rgbt-eval ") and "--output" not in line:
                found.append("eval_out")
            export = re.match(r"rgbt-export --checkpoint (\S+)\.pt --format onnx(?:\s|$)", line)
            if export and "--output" not in line:
                found.append(f"{export.group(1)}.onnx")
        for name in found:
            top = name.split("/")[0]
            names.add(top.removesuffix(".mcap"))  # --record X.mcap writes the folder X
    return names


def not_run_table(paths: list[Path] | None = None) -> str:
    """The blocks make test does not run, as the Markdown table of docs/development.md
    ("Commands not run here"): document, first command, where it runs instead and why."""
    rows = ["| document | first command | runs | why |", "| --- | --- | --- | --- |"]
    for block in all_blocks(paths):
        if block.kind in ("skip", "bench"):
            where = "make bench" if block.kind == "bench" else "not here"
            command = block.first_command.replace("|", "\\|")
            rows.append(f"| {block.path.relative_to(REPO_ROOT)} | `{command}` | {where} | {block.reason} |")
    return "\n".join(rows) + "\n"


def write_not_run_table(development: Path | None = None) -> None:
    """Replace the table under "## Commands not run here" of docs/development.md with the current one."""
    development = development or REPO_ROOT / "docs" / "development.md"
    head, heading, rest = development.read_text().partition("## Commands not run here")
    start = rest.index("| document |")
    table = "".join(itertools.takewhile(lambda line: line.startswith("|"), rest[start:].splitlines(keepends=True)))
    development.write_text(head + heading + rest[:start] + not_run_table() + rest[start + len(table):])


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--write"]:
        write_not_run_table()
    else:
        print(not_run_table(), end="")
