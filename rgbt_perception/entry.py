"""The node executables' entry points (setup.py's console scripts).

Importing the node takes a second or more (rclpy, torch); these import it only when called, so
that a Ctrl-C in that second ends the process as quietly as one after the start (status 0, no
traceback) rather than inside an import. rgbt_perception.process handles the rest of the start.
"""

from __future__ import annotations


def node() -> int:
    """rgbt_perception_node."""
    try:
        from rgbt_perception.node import main

        return main()
    except KeyboardInterrupt:
        return 0


def lifecycle_node() -> int:
    """rgbt_perception_lifecycle_node."""
    try:
        from rgbt_perception.lifecycle_node import lifecycle_main

        return lifecycle_main()
    except KeyboardInterrupt:
        return 0
