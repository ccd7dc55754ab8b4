"""config/rgbt.rviz (RViz2) and config/rgbt_foxglove_layout.json (Foxglove) show the node's topics:
each loads, and every topic they name is one the node publishes or subscribes to."""

from __future__ import annotations

import json

import yaml

from rgbt_perception.overlay import OVERLAY_TOPIC
from rgbt_perception.testing.ros_harness import REPO_ROOT

CONFIG = REPO_ROOT / "config"
NODE_SOURCES = [*(REPO_ROOT / "rgbt_perception").glob("*.py")]


def node_topic(topic: str) -> bool:
    """A topic the node's code names (relative names, as the node creates them; /diagnostics)."""
    name = topic if topic == "/diagnostics" else topic.lstrip("/")
    return any(f'"{name}"' in path.read_text() for path in NODE_SOURCES)


def rviz_topics(displays: list) -> list[str]:
    return [display["Topic"]["Value"] for display in displays if "Topic" in display]


def test_the_rviz2_file_loads_and_shows_the_nodes_topics():
    view = yaml.safe_load((CONFIG / "rgbt.rviz").read_text())
    topics = rviz_topics(view["Visualization Manager"]["Displays"])
    assert f"/{OVERLAY_TOPIC}" in topics and "/saliency/map" in topics and "/semantic/color" in topics
    assert all(node_topic(topic) for topic in topics), topics


def test_the_foxglove_layout_loads_and_shows_the_nodes_topics():
    layout = json.loads((CONFIG / "rgbt_foxglove_layout.json").read_text())
    panels = layout["configById"]
    topics = [panel.get("imageMode", {}).get("imageTopic") or panel.get("topicPath") or panel.get("topicToRender")
              for panel in panels.values()]
    assert f"/{OVERLAY_TOPIC}" in topics and all(node_topic(topic) for topic in topics), topics

    def leaves(node):
        return [node] if isinstance(node, str) else leaves(node["first"]) + leaves(node["second"])

    assert sorted(leaves(layout["layout"])) == sorted(panels)  # every panel placed once
