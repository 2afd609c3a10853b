"""Multi-process sampling with torch.distributed (torchrun): shard samples by index, gather in order.

Each sample j has its own seeded latent (gitscore.sampling.latents), so a rank computes samples
[start, stop) and the gathered result holds the same samples as a single-process run. When are they
bit-identical? The solvers' arithmetic is per sample, but a denoiser evaluates a whole batch, and
batched kernels (convolutions, matmuls) may round a sample differently in a batch of another size
or composition (~1e-6 in float32). So results are bit-identical exactly when every sample is
computed in the same batch (same batch_size, same batch boundaries), on the same device, dtype and
library versions:

- `shard(n, batch_size=B)` (used by gitscore.sampling.sample, hence GITS's warm-up, `gitscore bench`
  and `gitscore sample`) hands each rank whole batches of the single-process split [0, B), [B, 2B), ...:
  any number of processes gives the single-process result bit for bit, for a given batch size;
- a different batch size may change the last bits of any sample whose denoiser computes in batches;
  a denoiser that computes each row on its own (Gaussian, GMM in float64) gives the same bits anyway.

Without torchrun (no WORLD_SIZE), everything runs in-process with rank 0 of 1.
"""
from __future__ import annotations

import os

import torch

from .checks import check_int

__all__ = ["init", "close", "rank_world", "shard", "gather", "from_main", "is_main"]


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
    """(rank, world size) of this process: (0, 1) unless torch.distributed is initialised (torchrun).

    >>> rank_world()  # a plain Python process
    (0, 1)
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """True on rank 0 (and in a single process): the rank that writes results and prints."""
    return rank_world()[0] == 0


def shard(n: int, rank: int | None = None, world: int | None = None, batch_size: int = 1) -> tuple[int, int]:
    """The contiguous slice [start, stop) of n samples that `rank` of `world` computes: whole batches
    [k B, (k+1) B) of the single-process split (B = batch_size), spread evenly over the ranks."""
    if rank is None or world is None:
        rank, world = rank_world()
    if not 0 <= rank < world:
        raise ValueError(f"rank must be in [0, {world}), got {rank}")
    batch_size = check_int("batch_size", batch_size, 1)
    batches = -(-n // batch_size)
    return (min(n, batch_size * (batches * rank // world)), min(n, batch_size * (batches * (rank + 1) // world)))


def gather(x: torch.Tensor) -> torch.Tensor:
    """Concatenate each rank's shard (along dim 0) in rank order on every rank."""
    import torch.distributed as dist
    _, world = rank_world()
    if world == 1:
        return x
    parts = [None] * world
    dist.all_gather_object(parts, x.cpu())
    return torch.cat(parts).to(x.device)


def from_main(value):
    """The main rank's `value`, on every rank (e.g. whether it could lock the output folder)."""
    import torch.distributed as dist
    if rank_world()[1] == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]
