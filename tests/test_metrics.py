"""gitscore.metrics: FD/KID in classifier features against brute force, the shipped classifier, reference ODE errors."""
import json
import shutil
import warnings

import numpy as np
import pytest
import scipy.linalg
import torch

from gitscore import metrics, nets
from gitscore.data import fashion_mnist
from gitscore.denoisers import GaussianDenoiser

N = 1000  # images per set: two disjoint test subsets


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small float64 LAPACK calls (256 x 256) run far slower on 2 threads than on 1 when the cores are busy."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def test_sets():
    x, y = fashion_mnist("test")  # make test installs the data; a missing data set is a failure
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    a, b = perm[:N], perm[N:2 * N]
    return x[a], y[a], x[b]


@pytest.fixture(scope="module")
def feats(test_sets):
    xa, _, xb = test_sets
    noise = torch.randn(N, 1, 28, 28, generator=torch.Generator().manual_seed(1)).clamp(-1, 1)
    return metrics.image_features(xa), metrics.image_features(xb), metrics.image_features(noise)


def fd_brute_force(f1, f2):
    """Fréchet distance with numpy/scipy: Tr sqrt(S1 S2) = Tr sqrt(S1^1/2 S2 S1^1/2) (symmetric PSD, eigh)."""
    f1, f2 = f1.numpy().astype(np.float64), f2.numpy().astype(np.float64)
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    w, v = np.linalg.eigh(s1)
    r1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(r1 @ s2 @ r1), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt), (mu1, s1, mu2, s2)


def test_fd_matches_brute_force_and_is_symmetric(feats):
    fa, fb, _ = feats
    fd = metrics.frechet_distance(fa, fb)
    ref, (mu1, s1, mu2, s2) = fd_brute_force(fa.features, fb.features)
    assert fd == pytest.approx(ref, rel=1e-6)
    assert metrics.frechet_distance(fb, fa) == pytest.approx(fd, rel=1e-8)
    # pytorch-fid's formula (scipy sqrtm of the product) agrees as well; dead ReLU units make S singular
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(s1 @ s2).real
    assert fd == pytest.approx(float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean)), rel=1e-5)


def test_fd_scale(feats, test_sets):
    fa, fb, fnoise = feats
    scale = float(fa.cov.trace())  # FD of two independent sets with the same law is O(Tr S / N)
    assert abs(metrics.frechet_distance(fa, fa)) < 1e-8 * scale
    fd_ab, fd_noise = metrics.frechet_distance(fa, fb), metrics.frechet_distance(fnoise, fa)
    assert 0 < fd_ab < 0.1 * scale
    assert fd_noise > 50 * fd_ab
    # images and precomputed features give the same value
    assert metrics.frechet_distance(test_sets[0][:200], fb) == pytest.approx(
        metrics.frechet_distance(metrics.FeatureStats(fa.features[:200]), fb), rel=1e-10)


def test_kid_matches_brute_force(feats):
    fa, fb, fnoise = feats
    m = 300
    # One subset holding every sample: the estimate no longer depends on the random draw.
    f1, f2 = fa.features[:m], fb.features[:m]
    mean, _ = metrics.kid(metrics.FeatureStats(f2), metrics.FeatureStats(f1), subset_size=m, subsets=1)
    k = lambda a, b: (a @ b.T / a.shape[1] + 1) ** 3
    kxx, kyy, kxy = k(f1, f1), k(f2, f2), k(f1, f2)
    mmd = ((kxx.sum() - kxx.trace()) + (kyy.sum() - kyy.trace())) / (m * (m - 1)) - 2 * kxy.mean()
    assert mean == pytest.approx(float(mmd), rel=1e-8)
    # unbiased: two sets from the same law sit near 0, far below noise images
    kid_ab, std_ab = metrics.kid(fa, fb, subset_size=300, subsets=10)
    kid_noise, _ = metrics.kid(fnoise, fa, subset_size=300, subsets=10)
    assert abs(kid_ab) < 0.01 * kid_noise
    assert metrics.kid(fa, fb, subset_size=300, subsets=10) == (kid_ab, std_ab)  # seeded
    with pytest.raises(ValueError, match="subset_size"):
        metrics.kid(fa, fb, subset_size=N + 1)


def test_shipped_classifier_accuracy(test_sets):
    xa, ya, _ = test_sets
    assert metrics.classifier_accuracy(xa, ya) >= 0.9
    clf = metrics.load_classifier()
    assert not clf.training and not any(p.requires_grad for p in clf.parameters())
    assert clf.info["test_accuracy"] >= 0.9


def test_tampered_classifier_refused(tmp_path):
    src = metrics.CLASSIFIER_PATH
    manifest = json.loads((src.parent / "MANIFEST.json").read_text())
    names = [src.name, src.with_suffix(".json").name]
    for name in names:
        shutil.copy(src.parent / name, tmp_path / name)
    (tmp_path / "MANIFEST.json").write_text(json.dumps({n: manifest[n] for n in names}))
    path = tmp_path / src.name
    metrics.load_classifier(path)  # the intact copy loads
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(nets.CheckpointError, match="sha256"):
        metrics.load_classifier(path)


def test_bad_arguments(feats):
    fa = feats[0]
    with pytest.raises(ValueError, match="shape"):
        metrics.frechet_distance(torch.zeros(4, 3, 28, 28), fa)
    with pytest.raises(TypeError, match="samples"):
        metrics.frechet_distance([1, 2], fa)
    with pytest.raises(ValueError, match="solver"):
        metrics.reference_solution(lambda x, s: x, torch.zeros(1, 2), solver="rk45")


def test_reference_error():
    x = torch.randn(5, 1, 4, 4, dtype=torch.float64)
    assert metrics.reference_error(x, x) == 0.0
    # per-sample RMSE, then the mean: errors of 1 and 3 everywhere give 2
    x_ref = torch.zeros(2, 3, 4)
    x = torch.stack([torch.ones(3, 4), torch.full((3, 4), -3.0)])
    assert metrics.reference_error(x, x_ref) == pytest.approx(2.0)
    assert metrics.rmse_per_sample(x, x_ref).tolist() == pytest.approx([1.0, 3.0])
    # RMSE of one sample equals ||x - x_ref|| / sqrt(d)
    v = torch.randn(1, 10, dtype=torch.float64)
    assert metrics.reference_error(v, torch.zeros_like(v)) == pytest.approx(float(v.norm() / 10 ** 0.5))
    with pytest.raises(ValueError, match="same shape"):
        metrics.reference_error(torch.zeros(2, 3), torch.zeros(3, 2))


def test_reference_solution_converges_to_exact_gaussian_flow():
    d, sigma_min, sigma_max = 16, 0.002, 80.0
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(d, generator=g, dtype=torch.float64)
    var = torch.rand(d, generator=g, dtype=torch.float64) * 0.5 + 0.01
    den = GaussianDenoiser(mean, var)
    x_T = sigma_max * torch.randn(8, d, generator=g, dtype=torch.float64)
    exact = den.exact_solution(x_T, sigma_max, sigma_min)
    conv = metrics.check_converged(den, x_T, n_steps=64, sigma_min=sigma_min, sigma_max=sigma_max)
    err_2n = metrics.reference_error(conv.reference, exact)
    err_n = metrics.reference_error(metrics.reference_solution(den, x_T, n_steps=64, sigma_min=sigma_min,
                                                               sigma_max=sigma_max), exact)
    assert err_n / err_2n == pytest.approx(4, rel=0.15)  # Heun is second order
    # Richardson: e_n ~ 4 e_2n, so the n-vs-2n distance ||e_n - e_2n|| ~ (3/4) err_n bounds the reference's error
    assert conv.error == pytest.approx(0.75 * err_n, rel=0.1)
    assert err_2n < conv.error and conv.relative == pytest.approx(conv.error / float(
        conv.reference.square().mean(1).sqrt().mean()), rel=1e-12)


def test_reference_grid_is_the_reference_solutions_grid():
    from gitscore.denoisers import GaussianDenoiser
    from gitscore.schedules import polynomial
    from gitscore.solvers import SOLVERS

    den = GaussianDenoiser(torch.zeros(2), torch.tensor([0.5, 2.0]))
    den.sigma_min, den.sigma_max = 0.01, 20.0
    assert torch.equal(metrics.reference_grid(den, 16), polynomial(16, 0.01, 20.0))
    assert torch.equal(metrics.reference_grid(None, 16), polynomial(16))
    assert torch.equal(metrics.reference_grid(den, 16, 0.002, 80.0, rho=3.0), polynomial(16, 0.002, 80.0, 3.0))
    x_T = 20.0 * torch.randn(3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.equal(metrics.reference_solution(den, x_T, n_steps=16),
                       SOLVERS[metrics.REFERENCE_SOLVER](den, x_T, polynomial(16, 0.01, 20.0)))
    for bad in (0, 2.0, True):
        with pytest.raises(ValueError, match="n_steps"):
            metrics.reference_grid(den, bad)
