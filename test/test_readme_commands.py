"""Every shell block of README.md, run as a user types it on the pip route
(rgbt_perception/testing/documents.py says how; docs/development.md lists the blocks not run here)."""

from __future__ import annotations

import pytest

from rgbt_perception.testing.documents import block_params, check_block
from rgbt_perception.testing.ros_harness import REPO_ROOT


@pytest.mark.parametrize("block", block_params([REPO_ROOT / "README.md"]))
def test_readme_block_runs_as_written(block, document_folders, ros_env, request):
    check_block(block, document_folders(block), ros_env, lambda: request.getfixturevalue("rclpy_context"))
