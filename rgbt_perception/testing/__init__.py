"""Support of the repository's tests and benchmarks (run from a source checkout): an isolated
ROS 2 domain per session and node subprocesses (`ros_harness`), synthetic camera messages, the
test parameter set and an in-process graph (`node_fixtures`), a test publisher (`talker`).
Never imported by the node."""
