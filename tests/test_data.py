import gzip
import shutil

import pytest
import torch

from gitscore import data


def test_train_and_test_shapes_and_range():
    x, y = data.fashion_mnist("train")
    assert x.shape == (60000, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (60000,) and set(y.unique().tolist()) == set(range(10))
    assert x.min().item() == -1.0 and x.max().item() == 1.0
    xt, yt = data.fashion_mnist("test")
    assert xt.shape == (10000, 1, 28, 28) and (torch.bincount(yt) == 1000).all()


def test_returns_copies():
    x, _ = data.fashion_mnist("test")
    x.zero_()
    assert data.fashion_mnist("test")[0].abs().sum() > 0


def test_bad_split():
    with pytest.raises(ValueError, match="split must be one of"):
        data.fashion_mnist("validation")


def test_missing_dataset_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GITSCORE_DATA", str(tmp_path))
    with pytest.raises(data.DataNotFoundError) as e:
        data.fashion_mnist("train")
    msg = str(e.value)
    assert "apt-get install dataset-fashion-mnist" in msg and "GITSCORE_DATA" in msg


def test_env_var_folder_and_checksum(tmp_path, monkeypatch):
    src = data.DEBIAN_DIR if not data.os.environ.get("GITSCORE_DATA") else data.data_dir()
    for f in data._SHA256:
        shutil.copy(src / f, tmp_path / f)
    monkeypatch.setenv("GITSCORE_DATA", str(tmp_path))
    data._CACHE.clear()
    x, y = data.fashion_mnist("test")
    assert x.shape == (10000, 1, 28, 28)
    # A corrupted file (one label changed) fails the checksum with a clear error.
    raw = bytearray(gzip.decompress((tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    raw[100] = (raw[100] + 1) % 10
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(raw)))
    data._CACHE.clear()
    with pytest.raises(ValueError, match="checksum mismatch"):
        data.fashion_mnist("test")
    data._CACHE.clear()
