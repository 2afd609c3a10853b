"""gitscore.models: one registry of named models; the KDE subset rule of the committed benchmark runs."""
import pytest
import torch

from gitscore import models
from gitscore.denoisers import GMMDenoiser, KDEDenoiser


def test_kde_subset_is_the_benchmarks_seeded_rule():
    images = torch.arange(50.0).reshape(50, 1, 1, 1)
    assert models.kde_subset(images, None) is images and models.kde_subset(images, 50) is images
    sub = models.kde_subset(images, 7)
    # The rule `gitscore bench` has used for results/kde: a permutation seeded with 0, its first kde_size.
    old = images[torch.randperm(50, generator=torch.Generator().manual_seed(0))[:7]]
    assert torch.equal(sub, old) and not torch.equal(sub, images[:7])
    assert len(set(sub.flatten().tolist())) == 7
    for bad in (0, 51, 2.5, True):
        with pytest.raises(ValueError, match=r"kde_size must be an integer in \[1, 50\]"):
            models.kde_subset(images, bad)


def test_toy_gmm():
    D = models.toy_gmm(5)
    assert D.means.shape == (8, 5) and torch.allclose(D.means[:, :2].norm(dim=1), torch.ones(8, dtype=torch.float64))
    with pytest.raises(ValueError, match="dim"):
        models.toy_gmm(1)


def test_class_gmm_is_one_gaussian_per_class():
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
    images = torch.randn(10, 1, 2, 2, generator=g) + 3 * labels.reshape(-1, 1, 1, 1)
    D = models.class_gmm(images, labels)
    assert isinstance(D, GMMDenoiser)
    X = images.flatten(1).double()
    for c, n in enumerate((3, 2, 5)):
        assert torch.allclose(D.weights[c], torch.tensor(n / 10, dtype=torch.float64))
        assert torch.allclose(D.means[c].flatten(), X[labels == c].mean(0))
    # At vanishing noise the posterior mean of a point at a class mean is that mean.
    x = D.means[1:2].reshape(1, 1, 2, 2).clone()
    assert torch.allclose(D(x, torch.tensor([1e-4], dtype=torch.float64)), x, atol=1e-6)
    # diagonal (default): the per-pixel class variance plus the floor; full: the class covariance plus ridge.
    for c in range(3):
        assert torch.allclose(D.eigval[c], X[labels == c].var(0) + models.CLASS_GMM_VAR_FLOOR)
    assert D.eigvec is None
    F = models.class_gmm(images, labels, covariance="full", ridge=0.5)
    cov = torch.cov(X[labels == 2].T) + 0.5 * torch.eye(4, dtype=torch.float64)
    assert torch.allclose(F.eigvec[2] @ torch.diag(F.eigval[2]) @ F.eigvec[2].T, cov, atol=1e-10)
    with pytest.raises(ValueError, match=r"covariance must be one of \['full', 'diag'\], got 'spherical'"):
        models.class_gmm(images, labels, covariance="spherical")


def test_registry_errors_name_the_argument():
    with pytest.raises(ValueError, match="model must be one of"):
        models.load_model("sd15")
    with pytest.raises(ValueError, match="checkpoint applies to the model 'fmnist'"):
        models.load_model("kde", checkpoint="x.safetensors")
    with pytest.raises(ValueError, match="kde_size applies to the model 'kde'"):
        models.load_model("gmm-toy", kde_size=3)


def test_every_named_model_loads_and_denoises():
    torch.set_num_threads(1)
    for name in models.MODELS:
        m = models.load_model(name, device="cpu", kde_size=20 if name == "kde" else None)
        x = torch.randn(2, *m.shape, dtype=m.dtype)
        out = m.denoiser(x, torch.full((2,), 1.0, dtype=m.dtype))
        assert out.shape == x.shape and torch.isfinite(out).all(), name
        assert 0 < m.sigma_min < m.sigma_max and m.device == torch.device("cpu"), name
    assert models.load_model("fmnist", device="cpu").label == "fmnist (shipped fmnist_edm)"


def test_bench_and_cli_share_the_kde_rule():
    torch.set_num_threads(1)
    D = models.load_model("kde", kde_size=30).denoiser  # what `gitscore bench --model kde --kde-size 30` runs
    assert isinstance(D, KDEDenoiser) and D.N == 30
    images = models.fmnist_images("train")
    expected = images[torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:30]]
    torch.testing.assert_close(D.points(torch.arange(30)).cpu().float(), expected, rtol=0, atol=1e-6)
