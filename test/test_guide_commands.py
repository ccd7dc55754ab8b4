"""Every shell block of docs/*.md, run as a user types it on the pip route
(rgbt_perception/testing/documents.py says how; docs/development.md lists the blocks not run here)."""

from __future__ import annotations

import pytest

from rgbt_perception.testing.documents import (
    block_params,
    check_block,
    documents,
    prepare_stand_ins,
    user_folder,
)


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stand_ins")
    prepare_stand_ins(folder)
    return folder


@pytest.mark.parametrize("block", block_params(documents()[1:]))
def test_guide_block_runs_as_written(block, stand_ins, tmp_path, ros_env, request):
    check_block(block, user_folder(tmp_path / "user", stand_ins), ros_env,
                lambda: request.getfixturevalue("rclpy_context"))
