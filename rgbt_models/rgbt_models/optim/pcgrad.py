"""PCGrad gradient deconfliction (Yu et al. 2020) inside parameter groups, as SAMSOD uses it.

For each task gradient g_i and each other task gradient g_j, visited in a fresh random order:
if g_i·g_j < 0, g_i ← g_i − (g_i·g_j / ‖g_j‖²) g_j, where g_i is the running projected
gradient and g_j the *original* gradient of task j. The group's update is the mean of the
projected gradients. (The authors' code shuffles in place and its shuffle is a no-op.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch


def pcgrad_combine(task_grads: Sequence[torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
    """Project conflicting flat task gradients and return their mean."""
    if not task_grads:
        raise ValueError("pcgrad_combine needs at least one gradient")
    projected = []
    for i, g_i in enumerate(task_grads):
        g = g_i.clone()
        others = [j for j in range(len(task_grads)) if j != i]
        for position in torch.randperm(len(others), generator=generator).tolist():
            g_j = task_grads[others[position]]
            dot = torch.dot(g, g_j)
            if dot < 0:
                g = g - dot / g_j.pow(2).sum().clamp_min(1e-20) * g_j
        projected.append(g)
    return torch.stack(projected).mean(dim=0)


def pcgrad_backward(task_losses: Mapping[str, torch.Tensor],
                    groups: Mapping[str, tuple[Sequence[torch.nn.Parameter], Sequence[str]]],
                    generator: torch.Generator | None = None) -> None:
    """Write PCGrad gradients into `.grad` of every parameter of every group.

    task_losses: task name -> scalar loss. groups: group name -> (parameters, names of the
    tasks whose gradients the group deconflicts). A task that does not reach a parameter
    contributes a zero gradient there.
    """
    params = [p for group_params, _ in groups.values() for p in group_params]
    if len({id(p) for p in params}) != len(params):
        raise ValueError("a parameter belongs to more than one PCGrad group")
    needed = {task for _, tasks in groups.values() for task in tasks}
    grads: dict[str, dict[int, torch.Tensor]] = {}
    names = [t for t in task_losses if t in needed]
    for index, task in enumerate(names):
        task_grads = torch.autograd.grad(task_losses[task], params, retain_graph=index < len(names) - 1,
                                         allow_unused=True)
        grads[task] = {id(p): (torch.zeros_like(p) if g is None else g) for p, g in zip(params, task_grads)}
    for group_params, tasks in groups.values():
        if not group_params:
            continue
        flat = [torch.cat([grads[t][id(p)].reshape(-1) for p in group_params]) for t in tasks]
        combined = pcgrad_combine(flat, generator)
        offset = 0
        for p in group_params:
            p.grad = combined[offset:offset + p.numel()].view_as(p).clone()
            offset += p.numel()
