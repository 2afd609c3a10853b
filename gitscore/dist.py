"""Multi-process sampling with torch.distributed (torchrun): shard samples by index, gather in order.

Each sample j has its own seeded latent (gitscore.gits.latents), so a rank computes samples
[start, stop) and the gathered result equals a single-process run bit for bit (same device/dtype).
Without torchrun (no WORLD_SIZE), everything runs in-process with rank 0 of 1.
"""
from __future__ import annotations

import os

import torch

__all__ = ["init", "close", "rank_world", "shard", "gather", "is_main", "barrier"]


def init(backend: str | None = None) -> tuple[int, int]:
    """Initialise the process group when launched by torchrun (gloo on CPU, NCCL on GPUs); returns (rank, world)."""
    import torch.distributed as dist
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
        dist.init_process_group(backend)
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return rank_world()


def close() -> None:
    """Wait for every rank, then tear the process group down (a no-op without one).

    Call it before a torchrun worker exits: a gloo group left alive aborts the process at
    interpreter exit ("terminate called without an active exception") on some runs.
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def rank_world() -> tuple[int, int]:
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return rank_world()[0] == 0


def barrier() -> None:
    import torch.distributed as dist
    if rank_world()[1] > 1:
        dist.barrier()


def shard(n: int, rank: int | None = None, world: int | None = None) -> tuple[int, int]:
    """The contiguous slice [start, stop) of n samples that `rank` of `world` computes."""
    if rank is None or world is None:
        rank, world = rank_world()
    if not 0 <= rank < world:
        raise ValueError(f"rank must be in [0, {world}), got {rank}")
    return n * rank // world, n * (rank + 1) // world


def gather(x: torch.Tensor) -> torch.Tensor:
    """Concatenate each rank's shard (along dim 0) in rank order on every rank."""
    import torch.distributed as dist
    _, world = rank_world()
    if world == 1:
        return x
    parts = [None] * world
    dist.all_gather_object(parts, x.cpu())
    return torch.cat(parts).to(x.device)
