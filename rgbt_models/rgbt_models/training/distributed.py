"""Multi-process training (torchrun): process group set-up and gradient averaging.

Gradients are averaged with an explicit all-reduce after each backward rather than through
DistributedDataParallel's reducer: SAMSOD's PCGrad computes per-task gradients with
torch.autograd.grad, which DDP's hooks never see. The effect is the same data parallelism.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """(rank, world size) of this process; (0, 1) when not started by torchrun."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(device: torch.device) -> tuple[int, int]:
    """Join the process group torchrun describes (nccl on CUDA, gloo on CPU); no-op otherwise."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return world()
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return world()


def broadcast_parameters(model: torch.nn.Module) -> None:
    """Every rank starts from rank 0's weights (random init differs per process otherwise)."""
    if world()[1] > 1:
        for tensor in list(model.parameters()) + list(model.buffers()):
            dist.broadcast(tensor.data, src=0)


def average_gradients(parameters) -> None:
    _, size = world()
    if size == 1:
        return
    for p in parameters:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        p.grad /= size


def parameter_checksum(model: torch.nn.Module) -> str:
    """A bit-exact fingerprint of the trained parameters (to compare ranks or runs)."""
    import hashlib

    digest = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(p.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]
