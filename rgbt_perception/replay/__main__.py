"""python -m rgbt_perception.replay: the same as the rgbt-replay console script."""

import sys

from rgbt_perception.replay.cli import main

sys.exit(main())
