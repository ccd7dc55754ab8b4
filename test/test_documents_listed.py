"""The documents' blocks that make test does not run are listed, each with its reason, in
docs/development.md; markers say something and stand where they belong."""

from __future__ import annotations

import pytest

from rgbt_perception.testing.documents import Block, all_blocks, blocks, not_run_table, written_paths
from rgbt_perception.testing.ros_harness import REPO_ROOT


def test_every_block_not_run_here_is_listed_with_its_reason():
    listed = (REPO_ROOT / "docs" / "development.md").read_text().split("## Commands not run here", 1)[1]
    assert not_run_table() in listed, "stale: python -m rgbt_perception.testing.documents --write"


def test_make_test_runs_at_least_five_blocks_of_the_readme_and_five_of_the_guides():
    runs = [block for block in all_blocks() if block.kind in ("run", "node")]
    readme = [block for block in runs if block.path.name == "README.md"]
    assert len(readme) >= 5 and len(runs) - len(readme) >= 5
    first_screen = next(block for block in readme if block.kind == "node")
    assert "rgbt-launch samsod_checkpoint:=samsod.pt" in first_screen.code  # relative, SAMSOD only
    assert "sartm" not in first_screen.code and "rgbt-replay drive/ --live" in first_screen.feeder.code


def test_a_node_block_fed_by_the_next_block_takes_it_along(tmp_path):
    document = tmp_path / "x.md"
    document.write_text("<!-- doc-test: node expect=out feed=next -->\n```bash\nnode\n```\n\ntext\n\n"
                        "```bash\nfeed it\n```\n\n```bash\nls\n```\n")
    node, alone = blocks(document)
    assert node.kind == "node" and node.feeder.code == "feed it\n" and node.feeder.line == 8
    assert alone.code == "ls\n" and alone.feeder is None


@pytest.mark.parametrize(("text", "problem"), [
    ("<!-- doc-test: skip -->\n```bash\nls\n```\n", "says why"),
    ("<!-- doc-test: node rgb=/a -->\n```bash\nls\n```\n", "names rgb=, thermal= and expect="),
    ("<!-- doc-test: skip: a reason -->\n\ntext\n", "must stand just before"),
    ("<!-- doc-test: node expect=/a feed=next -->\n```bash\nls\n```\n", "no block follows"),
    ("<!-- doc-test: node expect=/a feed=later -->\n```bash\nls\n```\n", "feed=next"),
])
def test_a_marker_that_says_nothing_or_stands_alone_is_an_error(tmp_path, text, problem):
    document = tmp_path / "x.md"
    document.write_text(text)
    with pytest.raises(ValueError, match=problem):
        blocks(document)


def test_a_block_is_named_after_its_file_and_line():
    block = Block(REPO_ROOT / "docs" / "fleet.md", 7, "source .venv/bin/activate\nrgbt-replay a \\\n  b  # c\n")
    assert block.name == "docs/fleet.md:7" and block.first_command == "rgbt-replay a"


def test_what_the_documents_write_is_ignored_by_git():
    """A reader following the README in the checkout leaves `git status` clean."""
    import subprocess

    written = sorted(written_paths())
    assert {"drive", "samsod.pt", "homography.yaml", "replay_out", "rovers"} <= set(written)
    result = subprocess.run(["git", "check-ignore", "--no-index", *written], cwd=REPO_ROOT, capture_output=True,
                            text=True)
    ignored = set(result.stdout.split())
    assert not set(written) - ignored, f"add to .gitignore: {sorted(set(written) - ignored)}"


def test_a_block_that_leaves_a_file_git_would_show_fails(tmp_path):
    """The harness checks what a block leaves in the reader's folder, not only what the regexes
    of written_paths find: a stray file fails, an ignored output does not."""
    from rgbt_perception.testing.documents import check_block, user_folder

    folder = user_folder(tmp_path / "reader")
    readme = REPO_ROOT / "README.md"
    assert check_block(Block(readme, 1, "mkdir -p replay_out && echo done\n"), folder, {}, None) == "done\n"
    with pytest.raises(AssertionError, match=r"README.md:2 leaves \['stray.txt'\] .* add to .gitignore"):
        check_block(Block(readme, 2, "touch stray.txt\n"), folder, {}, None)


def test_a_readers_folder_holds_what_a_clone_has_not_what_earlier_runs_left(tmp_path, monkeypatch):
    """A developer's drive/ or samsod.pt in the checkout is not linked into the reader's folder:
    the documents' blocks make their own (and must not write through a link into the checkout)."""
    import subprocess

    from rgbt_perception.testing import documents

    checkout = tmp_path / "checkout"
    for name in ("README.md", "docs/replay.md", ".venv/bin/python", "drive/metadata.yaml", "samsod.pt"):
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / name).write_text("")
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    subprocess.run(["git", "-C", str(checkout), "add", "README.md", "docs"], check=True)
    monkeypatch.setattr(documents, "REPO_ROOT", checkout)
    folder = documents.user_folder(tmp_path / "reader")
    assert sorted(entry.name for entry in folder.iterdir()) == [".venv", "README.md", "docs"]
    assert all(entry.is_symlink() for entry in folder.iterdir())


def test_the_readme_stays_a_product_page():
    """At most 15,000 characters (history goes to CHANGELOG.md, figures to docs/performance.md)."""
    readme = (REPO_ROOT / "README.md").read_text()
    assert len(readme) <= 15_000, f"README.md is {len(readme)} characters: move detail into docs/"
    assert (REPO_ROOT / "CHANGELOG.md").read_text().startswith("# Changelog")


def test_a_bench_block_alone_first_runs_the_blocks_its_reader_ran_before_it(tmp_path):
    """make bench runs bench blocks without the plain ones (pytest -m bench): the harness runs the
    document's earlier plain blocks first, once, as its reader did."""
    from rgbt_perception.testing.documents import blocks, check_block, user_folder

    guide = tmp_path / "guide.md"
    guide.write_text("```bash\nmkdir -p drive && echo frame >> drive/frames\n```\n\n"
                     "<!-- doc-test: bench: slow -->\n```bash\ntest \"$(cat drive/frames)\" = frame\n```\n")
    plain, bench = blocks(guide)
    folder = user_folder(tmp_path / "reader")
    check_block(bench, folder, {}, None)
    check_block(bench, folder, {}, None)  # the plain block is not run twice
    assert (folder / "drive" / "frames").read_text() == "frame\n" and plain.kind == "run"
