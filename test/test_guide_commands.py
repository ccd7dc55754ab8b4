"""Every shell block of docs/*.md, run as a user types it on the pip route
(rgbt_perception/testing/documents.py says how; docs/development.md lists the blocks not run here)."""

from __future__ import annotations

import pytest

from rgbt_perception.testing.documents import block_params, check_block, documents


@pytest.mark.parametrize("block", block_params(documents()[1:]))
def test_guide_block_runs_as_written(block, document_folders, ros_env, request):
    check_block(block, document_folders(block), ros_env, lambda: request.getfixturevalue("rclpy_context"))
