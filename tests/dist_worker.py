"""Run by tests/test_dist.py under torchrun: GITS warm-up and sampling sharded over ranks."""
import sys

import torch

from gitscore import dist, gits, sampling
from gitscore.denoisers import GMMDenoiser

torch.set_num_threads(1)
rank, world = dist.init("gloo")
g = torch.Generator().manual_seed(0)
D = GMMDenoiser(torch.tensor([0.3, 0.7]), torch.randn(2, 16, generator=g), torch.tensor([0.05, 0.2]))
w = gits.warmup(D, (16,), 10, grid=gits.teacher_grid(13), seed=3, batch_size=3, dtype=torch.float64)
x = sampling.sample(D, "ipndm", gits.teacher_grid(6), 9, seed=5, shape=(16,), batch_size=2)
if rank == 0:
    from safetensors.torch import save_file
    save_file({"xs": w.xs.contiguous(), "ds": w.ds.contiguous(), "x": x.contiguous()}, sys.argv[1])
dist.close()
