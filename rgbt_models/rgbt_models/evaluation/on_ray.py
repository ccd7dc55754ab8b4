"""rgbt-eval --engine ray: each data set cut into chunks of frames, evaluated by Ray workers that
load the model and open the data sets once (rgbt_models/fleet.py), their metric states merged in
frame order: the numbers of one process (saliency per-image values in the same order, confusion
matrices summed)."""

from __future__ import annotations

import math

from rgbt_models.evaluation.core import accumulate, new_accumulator, results_of
from rgbt_models.fleet import FleetError, engine_options, run_on_ray


class EvalWorker:
    """The model and the data sets as rgbt-eval's arguments give them, built once per worker."""

    def __init__(self, args) -> None:
        from rgbt_models.evaluation.inputs import prepare
        from rgbt_models.runtime import threads

        threads.apply(max(1, int(args.cpus_per_worker)))
        self.args = args  # the device as asked: "auto" is decided on the worker's machine
        self.job = prepare(args)

    def run(self, chunk: tuple[int, int, int]):
        """(data set index, first frame, end frame) -> the accumulator's state over those frames."""
        from torch.utils.data import Subset

        index, start, stop = chunk
        _, dataset, runner = self.job.sets[index]
        placement = self.job.placement
        return accumulate(runner, Subset(dataset, range(start, stop)), placement.device, self.args.batch_size,
                          dtype=placement.dtype).state()


def chunks(sizes: list[int], chunk: int | None, workers: int) -> list[tuple[int, int, int]]:
    """Every data set's frames in consecutive chunks (about 4 per worker unless `chunk` is given)."""
    out = []
    for index, size in enumerate(sizes):
        step = chunk or max(1, math.ceil(size / (4 * max(1, workers))))
        out += [(index, start, min(size, start + step)) for start in range(0, size, step)]
    return out


def evaluate_on_ray(args, job) -> dict:
    """{label: results} for every data set of `job` (evaluation.inputs.Evaluation), as
    `evaluate` gives them in one process."""
    model, sets = job.model, job.sets
    items = chunks([len(dataset) for _, dataset, _ in sets], args.chunk, args.workers)
    states: dict[tuple[int, int, int], dict] = {}
    failures: list[str] = []
    run_on_ray(items, EvalWorker, (args,), engine_options(args), states.__setitem__,
               lambda item, reason: failures.append(f"frames {item[1]}-{item[2] - 1} of {sets[item[0]][0]}: {reason}"))
    if failures:
        raise FleetError("; ".join(failures))
    results = {}
    for index, (label, _, _) in enumerate(sets):
        metrics = new_accumulator(model)
        for item in sorted(i for i in items if i[0] == index):
            metrics.merge(states[item])
        results[label] = results_of(metrics, model.kind)
    return results
