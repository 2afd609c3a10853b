"""torchrun with 2 CPU processes (gloo) gives exactly the single-process warm-up and samples."""
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from gitscore import dist, gits, sampling
from gitscore.denoisers import GMMDenoiser


def test_shard_covers_everything_once():
    for n in (0, 1, 7, 10, 257):
        for world in (1, 2, 3, 8):
            parts = [dist.shard(n, r, world) for r in range(world)]
            assert parts[0][0] == 0 and parts[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))


def test_close_without_a_group_is_a_no_op():
    dist.close()
    assert dist.rank_world() == (0, 1)


def test_torchrun_two_processes_match_single(tmp_path):
    out = tmp_path / "dist.safetensors"
    env = dict(os.environ, OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1")
    worker = Path(__file__).with_name("dist_worker.py")
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                        str(worker), str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    got = load_file(out)

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    D = GMMDenoiser(torch.tensor([0.3, 0.7]), torch.randn(2, 16, generator=g), torch.tensor([0.05, 0.2]))
    w = gits.warmup(D, (16,), 10, grid=gits.teacher_grid(13), seed=3, batch_size=3, dtype=torch.float64)
    x = sampling.sample(D, "ipndm", gits.teacher_grid(6), 9, seed=5, shape=(16,), batch_size=2)
    assert torch.equal(got["xs"], w.xs) and torch.equal(got["ds"], w.ds)
    assert torch.equal(got["x"], x)
