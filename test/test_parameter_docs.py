"""docs/parameters.md lists every parameter of the node with its default: equal to the table the
node declares (rgbt_perception/parameters.py), row by row."""

from __future__ import annotations

from rgbt_perception.parameter_docs import markdown
from rgbt_perception.parameters import PARAMETERS
from rgbt_perception.testing.ros_harness import REPO_ROOT


def test_the_parameter_table_is_the_nodes():
    written = (REPO_ROOT / "docs" / "parameters.md").read_text()
    assert written == markdown(), "docs/parameters.md is stale: python -m rgbt_perception.parameter_docs > it"
    rows = [line for line in written.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == list(PARAMETERS)

