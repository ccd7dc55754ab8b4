"""ament_python package rgbt_models: the ROS-free model library of rgbt-perception."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "rgbt_models"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    package_data={PACKAGE: ["configs/*/*.yaml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *[(f"share/{PACKAGE}/configs/{kind}", glob(f"{PACKAGE}/configs/{kind}/*.yaml"))
          for kind in ("backbone", "samsod", "sartm", "train", "uusod")],
    ],
    # torch and sam2 are deliberately not listed: pip would resolve them to a CUDA torch and
    # torchvision (see README). scripts/setup.sh installs them in the right order.
    install_requires=["setuptools", "numpy", "pyyaml", "tqdm"],
    zip_safe=False,
    maintainer="rgbt-perception maintainers",
    maintainer_email="maintainers@rgbt-perception.dev",
    description="SAM 2 based RGB-T models (SARTM, SAMSOD, UUSOD) with data, metrics and tools.",
    license="Apache-2.0",
    python_requires=">=3.10",
    entry_points={"console_scripts": [
        "rgbt-train = rgbt_models.cli.train:main",
        "rgbt-eval = rgbt_models.cli.evaluate:main",
        "rgbt-export = rgbt_models.cli.export:main",
        "rgbt-adapt = rgbt_models.cli.adapt:main",
        "rgbt-calibrate = rgbt_models.cli.calibrate:main",
        "rgbt-import = rgbt_models.cli.import_weights:main",
        "rgbt-labels = rgbt_models.cli.labels:main",
    ]},
)
