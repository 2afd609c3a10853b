"""A small EDM U-Net for 28x28 images, the shipped model, and networks loaded from checkpoints."""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

# Checkpoint files live in gitscore.checkpoints; the names are re-exported here for compatibility.
from .checks import resolve_device
from .checkpoints import CheckpointError, load_weights, model_weights, save_weights
from .files import atomic_write_bytes, sha256_file
from .denoisers import EDMPrecond

__all__ = ["UNet", "build_denoiser", "save_weights", "load_weights", "load_pretrained", "load_checkpoint",
           "WEIGHTS_DIR", "CheckpointError", "sha256_file", "atomic_write_bytes"]

WEIGHTS_DIR = Path(__file__).parent / "weights"


def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, ch // 4), ch)


class FourierEmbedding(nn.Module):
    """Sinusoidal embedding of c_noise = ln(sigma)/4.

    kind="positional" is EDM's (DDPM++ with EDM preconditioning): frequencies 1 ... 1/max_period on
    c_noise itself (endpoint included), so the embedding, and with it D(x, sigma), is smooth in sigma.
    kind="scaled1000" is gitscore's first network's: c_noise multiplied by 1000 first, which makes the
    fastest sinusoid turn ~20 times per unit of ln(sigma) and the network rough in sigma; kept only
    to load that network (`fmnist_edm_rough`).
    """

    KINDS = ("positional", "scaled1000")

    def __init__(self, dim: int, max_period: float = 10000.0, kind: str = "positional"):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"embedding must be one of {self.KINDS}, got {kind!r}")
        if dim < 4 or dim % 2:
            raise ValueError(f"emb_dim must be an even number >= 4, got {dim!r}")
        half = dim // 2
        denom = half - 1 if kind == "positional" else half
        self.kind, self.scale = kind, 1.0 if kind == "positional" else 1000.0
        # Computed on the CPU even under `with torch.device("meta")` (the shape check of a loaded config): meta
        # kernels of exp/arange would import torch's Python reference ops, seconds of start-up.
        freqs = torch.exp(-math.log(max_period) * torch.arange(half, device="cpu") / denom)
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, c_noise):
        arg = self.scale * c_noise[:, None] * self.freqs[None]
        return torch.cat([arg.cos(), arg.sin()], dim=1)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv x2 with the noise embedding added in between, and a skip connection."""

    def __init__(self, cin: int, cout: int, emb: int, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.conv1 = _norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb, cout)
        self.norm2, self.conv2 = _norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.drop = nn.Dropout(dropout)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x, e):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(e)[:, :, None, None]
        h = self.conv2(self.drop(F.silu(self.norm2(h))))
        return (self.skip(x) + h) / math.sqrt(2)


class Attention(nn.Module):
    """Single-head self-attention over pixels (used at the coarsest resolution only)."""

    def __init__(self, ch: int):
        super().__init__()
        self.norm, self.qkv, self.out = _norm(ch), nn.Conv2d(ch, 3 * ch, 1), nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x):
        B, C, H, W = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(B, 3, C, H * W).unbind(1)
        h = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return (x + self.out(h.transpose(1, 2).reshape(B, C, H, W))) / math.sqrt(2)


class UNet(nn.Module):
    """U-Net F(c_in x, c_noise) for EDM preconditioning: widths `channels` at 28, 14, 7 pixels."""

    def __init__(self, in_channels: int = 1, channels=(32, 64, 128), blocks: int = 2, emb_dim: int = 128,
                 attention: bool = True, dropout: float = 0.0, patch: int = 1, embedding: str = "positional"):
        super().__init__()
        self.config = dict(in_channels=in_channels, channels=list(channels), blocks=blocks, emb_dim=emb_dim,
                           attention=attention, dropout=dropout, patch=patch, embedding=embedding)
        # patch > 1: space-to-depth first (28x28x1 -> 14x14x4 for patch 2), depth-to-space at the end;
        # the U-Net then works at 1/patch resolution, which cuts the compute by about patch**2.
        self.patch = patch
        in_channels = in_channels * patch ** 2
        self.embed = nn.Sequential(FourierEmbedding(emb_dim, kind=embedding), nn.Linear(emb_dim, emb_dim), nn.SiLU(),
                                   nn.Linear(emb_dim, emb_dim), nn.SiLU())
        self.stem = nn.Conv2d(in_channels, channels[0], 3, padding=1)
        self.down, skips, ch = nn.ModuleList(), [channels[0]], channels[0]
        for level, width in enumerate(channels):
            for _ in range(blocks):
                self.down.append(ResBlock(ch, width, emb_dim, dropout))
                ch = width
                skips.append(ch)
            if level < len(channels) - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.mid = nn.ModuleList([ResBlock(ch, ch, emb_dim, dropout), ResBlock(ch, ch, emb_dim, dropout)])
        self.attn = Attention(ch) if attention else nn.Identity()
        self.up = nn.ModuleList()
        for level, width in reversed(list(enumerate(channels))):
            for _ in range(blocks + 1):
                self.up.append(ResBlock(ch + skips.pop(), width, emb_dim, dropout))
                ch = width
            if level > 0:
                self.up.append(nn.Upsample(scale_factor=2, mode="nearest"))
        self.head = nn.Sequential(_norm(ch), nn.SiLU(), nn.Conv2d(ch, in_channels, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x, c_noise):
        e = self.embed(c_noise.reshape(-1).expand(x.shape[0]))
        if self.patch > 1:
            x = F.pixel_unshuffle(x, self.patch)
        h = self.stem(x)
        hs = [h]
        for layer in self.down:
            h = layer(h, e) if isinstance(layer, ResBlock) else layer(h)
            hs.append(h)
        h = self.attn(self.mid[0](h, e))
        h = self.mid[1](h, e)
        for layer in self.up:
            if isinstance(layer, ResBlock):
                h = layer(torch.cat([h, hs.pop()], dim=1), e)
            else:
                h = layer(h)
                if h.shape[-1] != hs[-1].shape[-1]:  # 7 -> 14 -> 28: sizes match; guard odd sizes
                    h = F.interpolate(h, size=hs[-1].shape[-2:], mode="nearest")
        h = self.head(h)
        return F.pixel_shuffle(h, self.patch) if self.patch > 1 else h


def build_denoiser(config: dict) -> EDMPrecond:
    """An EDM-preconditioned U-Net from a config dict {"unet": {...}, "sigma_data": 0.5}.

    A saved config without "embedding" predates the choice and was trained with "scaled1000".
    """
    unet = dict(config.get("unet", {}))
    unet.setdefault("embedding", "scaled1000")
    return EDMPrecond(UNet(**unet), sigma_data=config.get("sigma_data", 0.5))


# ---------------------------------------------------------------- loading (files: gitscore.checkpoints)

def _build_loaded(tensors: dict, config: dict, path) -> EDMPrecond:
    """The EDM denoiser described by `config` with `tensors` loaded; CheckpointError if they do not fit."""
    _check_config(config, path)
    try:  # first without memory (meta device): a hostile config cannot make it allocate
        with torch.device("meta"):
            shapes = {k: tuple(v.shape) for k, v in build_denoiser(config).state_dict().items()}
    except (TypeError, ValueError, RuntimeError, ZeroDivisionError) as e:
        raise CheckpointError(f"{path} has a config this U-Net cannot be built from ({e}); "
                              "is it a checkpoint for another network?") from None
    have = {k: tuple(v.shape) for k, v in tensors.items()}
    if shapes != have:
        bad = sorted(set(shapes) ^ set(have)) or [k for k in shapes if shapes[k] != have[k]]
        k = bad[0]
        raise CheckpointError(f"{Path(path).name} does not match its config (a checkpoint for another network?): "
                              f"{k}: the config needs {shapes.get(k, 'no such tensor')}, the file has "
                              f"{have.get(k, 'no such tensor')}")
    model = build_denoiser(config)
    model.load_state_dict(tensors, strict=True)
    return model


def _check_config(config: dict, path) -> None:
    """The types of a model config's entries (sizes are checked against the weights' shapes)."""
    unet = config.get("unet", {})
    if not isinstance(unet, dict):
        raise CheckpointError(f"{path}: config entry 'unet' must be an object, got {unet!r}")
    sd = config.get("sigma_data", 0.5)
    if isinstance(sd, bool) or not isinstance(sd, (int, float)) or not (0 < sd < math.inf):
        raise CheckpointError(f"{path}: config entry 'sigma_data' must be a finite number > 0, got {sd!r}")
    ints = {"in_channels": 1, "blocks": 0, "emb_dim": 4, "patch": 1}
    for name, lo in ints.items():
        v = unet.get(name, lo)
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise CheckpointError(f"{path}: config entry 'unet.{name}' must be an integer >= {lo}, got {v!r}")
    ch = unet.get("channels", [1])
    if not (isinstance(ch, list) and ch and all(isinstance(c, int) and not isinstance(c, bool) and c >= 1
                                                 for c in ch)):
        raise CheckpointError(f"{path}: config entry 'unet.channels' must be a list of integers >= 1, got {ch!r}")
    if not isinstance(unet.get("attention", True), bool):
        raise CheckpointError(f"{path}: config entry 'unet.attention' must be true or false, "
                              f"got {unet['attention']!r}")


def load_checkpoint(path, device="cpu", verify: bool = True) -> EDMPrecond:
    """An EDM denoiser from a model file or a `gitscore train` checkpoint (its EMA weights), in eval mode."""
    tensors, config = load_weights(path, verify=verify)
    tensors, config = model_weights(tensors, config, path)
    model = _build_loaded(tensors, config, path)
    model = model.to(device).eval().requires_grad_(False)
    model.config = config
    return model


def load_pretrained(name: str = "fmnist_edm", device=None, verify: bool = True):
    """The shipped EDM denoiser D(x, sigma) trained on Fashion-MNIST (EMA weights), in eval mode."""
    path = WEIGHTS_DIR / f"{name}.safetensors"
    if not path.is_file():
        have = sorted(p.stem for p in WEIGHTS_DIR.glob("*.safetensors"))
        raise CheckpointError(f"no shipped model named {name!r}; available: {have}")
    device = resolve_device(device)
    return load_checkpoint(path, device, verify)
