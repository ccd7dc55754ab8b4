"""ament_python package rgbt_perception: the ROS 2 node side of rgbt-perception."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "rgbt_perception"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.xml") + glob("config/*.rviz")
         + glob("config/*.json")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="rgbt-perception maintainers",
    maintainer_email="maintainers@rgbt-perception.dev",
    description="ROS 2 RGB-T perception node: SARTM segmentation and SAMSOD saliency.",
    license="Apache-2.0",
    python_requires=">=3.10",
    entry_points={
        "console_scripts": [
            "rgbt_perception_node = rgbt_perception.entry:node",
            "rgbt_perception_lifecycle_node = rgbt_perception.entry:lifecycle_node",
            "rgbt-replay = rgbt_perception.replay.cli:main",
            "rgbt-launch = rgbt_perception.launcher:main",
        ],
    },
)
