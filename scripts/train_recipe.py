"""Retrain a shipped network from scratch with the recipe its config records, and export it.

Every shipped network's `gitscore/weights/NAME.json` keeps the training configuration it was trained with
(`training.train_config`: steps, batch size, learning rate and its decay, noise distribution, U-Net,
seed). This script trains a new run with exactly that configuration (keys the recipe predates take the
value the code of its time used: no log-uniform share of sigmas, no learning-rate decay) and exports the
EMA weights. A network whose hyperparameters were changed on resume (`gitscore train --allow-config-change`,
recorded in `training.config_changes` with the step) is retrained in phases, each resuming the last.
Resumable: rerunning the same command continues the run in --out.

    python scripts/train_recipe.py fmnist_edm --out runs/fmnist_edm --export runs/weights/fmnist_edm.safetensors
    python scripts/train_recipe.py fmnist_edm --out /tmp/r --steps 4 --batch-size 8 --export /tmp/r.safetensors

`fmnist_edm` (40,000 steps) took 15,729 s on 2 CPU cores; `fmnist_edm_rough` (10,000 steps) 4,062 s.
Its snapshots (`--snapshot-every`, the recipe's 2,000 for fmnist_edm) feed scripts/quality_curve.py.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import gitscore as gs

# What a recipe that predates a TrainConfig field meant by leaving it out (the code of its time).
PREDATED = {"p_uniform": 0.0, "lr_decay_from": 0, "snapshot_every": 0}


def recipe(name: str) -> list[tuple[dict, int]]:
    """The recorded training of shipped network `name` (gitscore/weights/NAME.json) as phases
    [(TrainConfig fields, last step)]: one phase, or one more per hyperparameter change made on resume."""
    path = gs.nets.WEIGHTS_DIR / f"{name}.json"
    if not path.is_file():
        raise SystemExit(f"no shipped network {name!r}: {path} not found")
    config = json.loads(path.read_text())
    if "train_config" not in config.get("training", {}):
        raise SystemExit(f"{path} records no training.train_config")
    fields = {f.name for f in dataclasses.fields(gs.train.TrainConfig)}
    return [(PREDATED | {k: v for k, v in cfg.items() if k in fields}, stop)
            for cfg, stop in gs.train.recipe_phases(config["training"])]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="a shipped network: fmnist_edm or fmnist_edm_rough")
    p.add_argument("--out", type=Path, required=True, help="run folder (resumed if present)")
    p.add_argument("--export", type=Path, required=True, help="where the EMA weights go (PATH.safetensors)")
    p.add_argument("--steps", type=int, help="override the recipe's steps (smoke runs)")
    p.add_argument("--batch-size", type=int, help="override the recipe's batch size (smoke runs)")
    p.add_argument("--checkpoint-every", type=int, help="override the recipe's checkpoint interval")
    p.add_argument("--snapshot-every", type=int, help="override the recipe's snapshot interval")
    p.add_argument("--device", default=None)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    phases = recipe(args.name)
    if args.steps is not None:  # a smoke run: the last phase's config, for --steps steps
        phases = [(phases[-1][0] | {"steps": args.steps}, args.steps)]
    images = gs.models.fmnist_images("train")
    found = gs.checkpoints.load_training(args.out) if args.out.is_dir() else None
    done = found[1]["step"] if found else 0  # a resumed recipe skips the phases it has passed
    for k, (cfg, stop) in enumerate(phases):
        if stop <= done and k < len(phases) - 1:
            continue
        for key in ("batch_size", "checkpoint_every", "snapshot_every"):
            if getattr(args, key) is not None:
                cfg[key] = getattr(args, key)
        config = gs.train.TrainConfig(**cfg)
        print(f"{args.name} phase {k + 1}/{len(phases)}: {json.dumps(dataclasses.asdict(config))}", flush=True)
        _, step = gs.train.train(images, args.out, config, device=args.device, progress=not args.quiet,
                                 allow_config_change=k > 0)
    args.export.parent.mkdir(parents=True, exist_ok=True)
    gs.train.export_ema(args.out, args.export)
    print(f"trained {args.name} to step {step} in {args.out}; exported to {args.export}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
