import json

import pytest
import torch

from gitscore import nets
from gitscore.train import TrainConfig, edm_loss, export_ema, train

TINY = dict(channels=[8, 16], blocks=1, emb_dim=32, attention=True, patch=2)


def _data(n=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    # Smooth blobs in [-1, 1]: learnable quickly.
    base = torch.randn(n, 1, 7, 7, generator=g)
    return torch.tanh(torch.nn.functional.interpolate(base, size=28, mode="bilinear", align_corners=False))


def _cfg(**kw):
    return TrainConfig(**({"steps": 24, "batch_size": 8, "lr": 2e-3, "warmup": 5, "checkpoint_every": 10,
                           "ema_decay": 0.9, "unet": TINY} | kw))


def test_unet_shapes_and_preconditioning():
    D = nets.build_denoiser({"unet": TINY})
    x = torch.randn(3, 1, 28, 28)
    assert D(x, torch.tensor([0.1, 1.0, 10.0])).shape == x.shape
    # Zero-initialised output layer: F = 0, so D = c_skip x exactly (EDM preconditioning).
    s = 2.0
    assert torch.allclose(D(x, s), 0.25 / (s ** 2 + 0.25) * x, atol=1e-6)


def test_checkpoint_round_trip_and_tamper(tmp_path):
    torch.manual_seed(0)
    D = nets.build_denoiser({"unet": TINY})
    for p in D.parameters():
        p.data.normal_()
    path = tmp_path / "m.safetensors"
    nets.save_weights(path, D.state_dict(), {"unet": TINY, "sigma_data": 0.5})
    tensors, cfg = nets.load_weights(path)
    D2 = nets.build_denoiser(cfg)
    D2.load_state_dict(tensors)
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(D(x, 1.0), D2(x, 1.0))
    manifest = json.loads((tmp_path / "MANIFEST.json").read_text())
    assert set(manifest) == {"m.safetensors", "m.json"}
    # Flip one byte: refused with a clear error, never loaded.
    blob = bytearray(path.read_bytes())
    blob[-5] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(nets.CheckpointError, match="sha256"):
        nets.load_weights(path)
    # A changed config is refused too.
    (tmp_path / "m.json").write_text(json.dumps({"unet": TINY | {"blocks": 2}}))
    with pytest.raises(nets.CheckpointError):
        nets.load_weights(path)


def test_missing_checkpoint_says_how(tmp_path):
    with pytest.raises(nets.CheckpointError, match="gitscore train"):
        nets.load_weights(tmp_path / "nope.safetensors")
    with pytest.raises(nets.CheckpointError, match="available"):
        nets.load_pretrained("no_such_model")


def test_training_lowers_loss_and_resumes_exactly(tmp_path):
    torch.set_num_threads(1)
    data = _data()
    fixed = data[:32]

    def fixed_loss(model):
        g = torch.Generator().manual_seed(123)
        with torch.no_grad():
            return edm_loss(model.eval(), fixed, g).item()

    torch.manual_seed(0)
    init = nets.build_denoiser(_cfg().model_config())
    ema_a, step_a = train(data, tmp_path / "a", _cfg(ema_decay=0.0), device="cpu", progress=False, log=lambda *_: None)
    assert step_a == 24
    assert fixed_loss(ema_a) < 0.9 * fixed_loss(init)

    # Kill after 15 steps (checkpoint on exit), resume to 24: bit-identical to the uninterrupted run.
    train(data, tmp_path / "b", _cfg(ema_decay=0.0), device="cpu", progress=False, stop_after=15, log=lambda *_: None)
    ema_b, step_b = train(data, tmp_path / "b", _cfg(ema_decay=0.0), device="cpu", progress=False, log=lambda *_: None)
    assert step_b == 24
    for (k, a), (_, b) in zip(ema_a.state_dict().items(), ema_b.state_dict().items()):
        assert torch.equal(a, b), k
    log = (tmp_path / "b" / "train_log.csv").read_text().splitlines()
    assert log[0] == "step,loss,lr,elapsed_s" and len(log) == 25

    # Export the EMA weights as a shipped model and load it back through the checked path.
    export_ema(tmp_path / "b", tmp_path / "ship" / "m.safetensors")
    tensors, cfg = nets.load_weights(tmp_path / "ship" / "m.safetensors")
    assert cfg["training"]["steps"] == 24
    m = nets.build_denoiser(cfg)
    m.load_state_dict(tensors)
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(m(x, 0.7), ema_b.to(memory_format=torch.contiguous_format)(x, 0.7))


def test_bad_train_config():
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match="ema_decay"):
        TrainConfig(ema_decay=1.0)
    with pytest.raises(ValueError, match="data must be"):
        train(torch.zeros(10, 28, 28), "/tmp/unused-gitscore", _cfg(), progress=False)


def test_shipped_model_denoises():
    from gitscore.data import fashion_mnist
    D = nets.load_pretrained("fmnist_edm", device="cpu")
    x0 = fashion_mnist("test")[0][:64]
    g = torch.Generator().manual_seed(0)
    sigma = 0.5
    noisy = x0 + sigma * torch.randn(x0.shape, generator=g)
    with torch.no_grad():
        err_model = (D(noisy, sigma) - x0).pow(2).mean().sqrt()
    err_input = (noisy - x0).pow(2).mean().sqrt()
    assert err_model < 0.5 * err_input


def test_adam_implementations_agree_and_bad_impl_is_refused():
    import pytest as _pytest

    from gitscore.nets import build_denoiser
    from gitscore.train import TrainConfig, ema_update, make_optimizer, train_step
    cfg = TrainConfig(steps=2, batch_size=4, unet=dict(channels=[8, 16], blocks=1, emb_dim=16, attention=False,
                                                       patch=2, embedding="positional"))
    data = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    out = {}
    for impl in ("loop", "foreach", "fused"):
        torch.manual_seed(0)
        model = build_denoiser(cfg.model_config() | {"unet": dict(cfg.unet, in_channels=1)})
        ema = build_denoiser(cfg.model_config() | {"unet": dict(cfg.unet, in_channels=1)})
        ema.load_state_dict(model.state_dict())
        opt = make_optimizer(model, cfg, impl)
        for step in range(2):
            train_step(model, ema, opt, data, step, cfg, foreach_ema=impl != "loop")
        out[impl] = torch.cat([p.detach().flatten() for p in model.parameters()])
    # the same Adam update, up to float rounding order
    torch.testing.assert_close(out["loop"], out["foreach"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out["loop"], out["fused"], rtol=1e-5, atol=1e-6)
    with _pytest.raises(ValueError, match="impl"):
        make_optimizer(model, cfg, "adamw")
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    want = [0.9 * p.detach() + 0.1 * q.detach() for p, q in zip(a.parameters(), b.parameters())]
    ema_update(a, b, 0.9)
    for p, w in zip(a.parameters(), want):
        torch.testing.assert_close(p.detach(), w)


def test_bf16_mixed_precision_is_fp32_up_to_bfloat16_rounding_and_reproducible(tmp_path):
    from gitscore.nets import build_denoiser
    from gitscore.train import train_step
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16"):
        TrainConfig(precision="fp16")
    data = _data(32)

    def run(precision):
        cfg = _cfg(precision=precision, batch_size=8)
        torch.manual_seed(0)
        model = build_denoiser(cfg.model_config() | {"unet": dict(cfg.unet, in_channels=1)})
        ema = build_denoiser(cfg.model_config() | {"unet": dict(cfg.unet, in_channels=1)})
        ema.load_state_dict(model.state_dict())
        opt = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: the weights stay, each step's loss is comparable
        losses = [train_step(model, ema, opt, data, step, cfg)[0] for step in range(3)]
        grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
        return torch.tensor(losses), grads

    l32, g32 = run("fp32")
    l16, g16 = run("bf16")
    # autocast took effect (bfloat16 keeps 8 bits of mantissa: not the float32 numbers) ...
    assert not torch.equal(l32, l16)
    # ... and the same loss and gradient up to that rounding (relative 2**-8 per operation)
    torch.testing.assert_close(l16, l32, rtol=2e-2, atol=0)
    assert torch.nn.functional.cosine_similarity(g16, g32, dim=0) > 0.99
    # bit-reproducible for a given seed and machine
    assert torch.equal(run("bf16")[1], g16)
    # a run trained in float32 does not silently resume in bfloat16
    train(data, tmp_path, _cfg(steps=10), progress=False, log=lambda *a: None)
    with pytest.raises(ValueError, match="precision"):
        train(data, tmp_path, _cfg(steps=20, precision="bf16"), progress=False, log=lambda *a: None)


def test_a_run_changed_on_resume_is_retrained_exactly_from_its_recorded_phases(tmp_path):
    from dataclasses import asdict

    from gitscore.checkpoints import load_weights
    from gitscore.train import recipe_phases
    data, quiet = _data(32), dict(progress=False, log=lambda *a: None)
    # the original: 10 steps at lr 2e-3 in float32, then resumed with another lr and bf16 up to 20
    train(data, tmp_path / "a", _cfg(steps=10), **quiet)
    train(data, tmp_path / "a", _cfg(steps=20, lr=1e-3, precision="bf16"), allow_config_change=True, **quiet)
    export_ema(tmp_path / "a", tmp_path / "a.safetensors")
    training = json.loads((tmp_path / "a.json").read_text())["training"]
    phases = recipe_phases(training)
    assert [stop for _, stop in phases] == [10, 20]
    assert phases[0][0] == asdict(_cfg(steps=10)) and phases[1][0] == asdict(_cfg(steps=20, lr=1e-3, precision="bf16"))
    for k, (cfg, _) in enumerate(phases):  # the replay, as scripts/train_recipe.py does it
        train(data, tmp_path / "b", TrainConfig(**cfg), allow_config_change=k > 0, **quiet)
    export_ema(tmp_path / "b", tmp_path / "b.safetensors")
    a, b = load_weights(tmp_path / "a.safetensors")[0], load_weights(tmp_path / "b.safetensors")[0]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # a run never changed has one phase
    train(data, tmp_path / "c", _cfg(steps=10), **quiet)
    export_ema(tmp_path / "c", tmp_path / "c.safetensors")
    assert len(recipe_phases(json.loads((tmp_path / "c.json").read_text())["training"])) == 1
