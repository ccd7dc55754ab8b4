"""rgbt-labels: labels drawn on mined frames, back as a data set folder for rgbt-train.

    rgbt-labels cvat EXPORT.zip --mined nightly/mined --output my_labels            # segmentation
    rgbt-labels cvat EXPORT.zip --mined nightly/mined --output my_masks --task saliency

EXPORT: the CVAT task exported as "Segmentation mask 1.1" (the zip or its folder). The data set is
the folder layout (rgb/, thermal/, labels/ + classes.yaml, or masks/): `rgbt-train` takes it as
`data.dataset: folder`, `data.root: my_labels` (docs/mining.md).
"""

from __future__ import annotations

import argparse
import sys

from rgbt_models.cli.pipes import quiet_on_closed_pipe

# rgbt_models.data.cvat's (imported after the arguments: --help loads no cv2)
TASKS = ("semantic", "saliency")
UNDRAWN = ("first", "ignore")


@quiet_on_closed_pipe
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rgbt-labels", description=__doc__.splitlines()[0],
                                     epilog=__doc__.split("\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tool", choices=("cvat",), help="the labelling tool the export comes from")
    parser.add_argument("export", help="its export (CVAT: 'Segmentation mask 1.1', zip or folder)")
    parser.add_argument("--mined", required=True, help="the mined folder the task was made from (rgb/, thermal/)")
    parser.add_argument("--output", required=True, help="the data set folder to write (must not exist)")
    parser.add_argument("--task", choices=TASKS, default="semantic",
                        help="semantic: class ids in labels/ + classes.yaml; saliency: 0/255 masks/")
    parser.add_argument("--undrawn", choices=UNDRAWN, default="first",
                        help="semantic: a pixel nobody drew is the first class (CVAT paints it black; every "
                             "region was drawn), or 'ignore': left out of training (only some classes drawn)")
    args = parser.parse_args(argv)
    from rgbt_models.data.cvat import import_cvat
    from rgbt_models.data.datasets import DatasetError

    try:
        done = import_cvat(args.export, args.mined, args.output, args.task, args.undrawn)
    except (DatasetError, ValueError, OSError) as error:
        print(f"rgbt-labels: {error}", file=sys.stderr)
        return 2
    labels = ", ".join(done["classes"])
    print(f"rgbt-labels: {done['frames']} labelled frames in {args.output} ({done['task']}; labels {labels})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
