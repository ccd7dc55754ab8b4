"""Does every trainable parameter learn? A check for any model of the library (SAMSOD, SARTM,
UUSOD's cue extractor and adapters): parameters that are reported as trainable and carried by
the optimizer but that no loss reaches are a bug (a dead head, a gate behind a floor())."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def parameters_without_gradient(model: nn.Module, backward_step: Callable[[], object], steps: int = 3,
                                lr: float = 1e-2) -> list[str]:
    """Names of the parameters with requires_grad whose gradient stayed zero (or None) in every
    one of `steps` training steps.

    backward_step() must run one forward pass and fill .grad (e.g. model.backward(losses));
    between steps an Adam step with `lr` moves the weights, so that parameters behind a
    zero-initialised layer (an adapter's down-projection behind its zero up-projection) get
    their gradient from the second step on, as in real training."""
    trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
    optimizer = torch.optim.Adam(trainable.values(), lr=lr)
    reached: set[str] = set()
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        backward_step()
        reached |= {name for name, p in trainable.items() if p.grad is not None and bool(p.grad.abs().sum() > 0)}
        optimizer.step()
    return sorted(set(trainable) - reached)
