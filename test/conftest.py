"""Fixtures of the rgbt_perception tests: an isolated ROS 2 domain and an rclpy context."""

from __future__ import annotations

from rgbt_models.runtime import threads  # first: sets the OpenMP wait policy before anything loads torch

# isort: split
import os

# Humble's message checks on every field a test or a node under test sets (Jazzy and Kilted skip
# them unless asked): a type or a slow path that only Humble would reject fails here too. Set
# before any message module is imported (the generated code reads it at import).
os.environ.setdefault("ROS_PYTHON_CHECK_FIELDS", "1")
from collections.abc import Iterator

import pytest

from rgbt_perception.testing.ros_harness import DomainLease, ros_environment

threads.apply(None)  # the project's thread policy for the test process (subprocesses apply their own)


@pytest.fixture(scope="session")
def ros_env() -> Iterator[dict[str, str]]:
    """Claim a ROS_DOMAIN_ID for this pytest session and export it to this process."""
    lease = DomainLease()
    env = ros_environment(lease.domain_id)
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        lease.release()


@pytest.fixture
def rclpy_context(ros_env):
    """A fresh rclpy Context initialised on the session's domain; shut down after the test."""
    import rclpy

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=int(ros_env["ROS_DOMAIN_ID"]))
    try:
        yield context
    finally:
        context.try_shutdown()


@pytest.fixture(scope="module")
def document_folders(tmp_path_factory):
    """For the documents' commands: one user's folder per document, its blocks run in order in it
    (rgbt_perception/testing/documents.py)."""
    from rgbt_perception.testing.documents import user_folder

    made: dict = {}
    return lambda block: made.get(block.path) or made.setdefault(
        block.path, user_folder(tmp_path_factory.mktemp(block.path.stem)))
