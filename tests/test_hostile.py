"""Issue 26, "Nothing lost": what a hostile user still broke. Each test fails on the code before the fix.

Grouped as the issue: data lost, replaced or misreported; tracebacks that became one-line errors (exit 2);
security (weights parts outside their folder); and the rest.
"""
import errno
import gzip
import hashlib
import json
import os
import stat
import tracemalloc

import numpy as np
import pytest
import torch
from safetensors.torch import save

from gitscore import bench, checkpoints, files, data, export, models, nets, sampling, schedules, solvers
from gitscore.train import TrainConfig, train
from cli_run import run

TOY = ["--model", "gmm-toy", "--steps", "4", "--n-warmup", "16", "--grid-points", "13"]
TINY_UNET = dict(channels=[8, 16], blocks=1, emb_dim=32, attention=False, patch=2)
QUIET = dict(device="cpu", progress=False, log=lambda *_: None)




def one_line_error(err: str, *needles) -> None:
    """err ends in one line `gitscore ...: error: ...` holding every needle (before it: progress lines only)."""
    lines = err.strip().splitlines()
    assert lines and lines[-1].startswith("gitscore") and ": error: " in lines[-1], err
    assert "Traceback" not in err and "usage:" not in err, err
    for n in needles:
        assert n in lines[-1], (n, err)


def _images(n=16):
    g = torch.Generator().manual_seed(0)
    return torch.tanh(torch.nn.functional.interpolate(torch.randn(n, 1, 7, 7, generator=g), size=28, mode="bilinear"))


def _train_cfg(**kw):
    return TrainConfig(**({"steps": 4, "batch_size": 2, "lr": 2e-3, "warmup": 2, "checkpoint_every": 2,
                           "ema_decay": 0.5, "unet": TINY_UNET} | kw))


def _log_steps(run_dir):
    lines = (run_dir / "train_log.csv").read_text().splitlines()
    assert lines[0] == "step,loss,lr,elapsed_s"
    return [int(line.split(",")[0]) for line in lines[1:]]


def _no_training(monkeypatch):
    """Make `gitscore train` fail loudly if it gets as far as loading the data (i.e. training starts)."""
    def refuse(split):
        raise AssertionError("training started before the arguments were checked")
    monkeypatch.setattr("gitscore.cli.fmnist_images", refuse)


def _bench_cfg(**kw):
    base = dict(model="kde", kde_size=50, solvers=["euler"], schedules=["polynomial"], nfes=[3], n_fd=0, n_ref=2,
                ref_steps=4, n_warmup=4, grid_points=9, batch_size=2)
    return bench.BenchConfig(**(base | kw))


def _weights_file(folder, name="m.safetensors", metadata=None, config=None):
    """A small model file + config + manifest, written as save_weights does, with a chosen header metadata."""
    blob = save({"w": torch.zeros(3)}, metadata=metadata)
    text = json.dumps(config or {"k": 1}).encode()
    path = folder / name
    path.write_bytes(blob)
    path.with_suffix(".json").write_bytes(text)
    sha = {path.name: hashlib.sha256(blob).hexdigest(),
           path.with_suffix(".json").name: hashlib.sha256(text).hexdigest()}
    (folder / "MANIFEST.json").write_text(json.dumps(sha))
    return path


# ================================================================ data lost, replaced or misreported

def test_export_removes_only_the_parts_it_wrote_before(tmp_path):
    """Files that merely start like a part's name are not the export's: they stay."""
    bystanders = {"model-party.safetensors": b"mine", "model-part2-old-backup.safetensors": b"backup",
                  "model-part7.safetensors": b"not named by any export"}
    for name, content in bystanders.items():
        (tmp_path / name).write_bytes(content)
    tensors = {f"t{i}": torch.full((100,), float(i)) for i in range(5)}
    path = tmp_path / "model.safetensors"
    checkpoints.save_weights(path, tensors, {"k": 1}, part_bytes=1000)  # parts 2 and 3
    assert (tmp_path / "model-part3.safetensors").is_file()
    checkpoints.save_weights(path, tensors, {"k": 1})  # one file now: its own parts 2, 3 go
    assert not (tmp_path / "model-part3.safetensors").exists()
    assert sorted(p.name for p in tmp_path.glob("model-part*")) == sorted(bystanders)
    assert all((tmp_path / n).read_bytes() == c for n, c in bystanders.items())


def test_save_weights_refuses_a_name_its_config_or_manifest_would_overwrite(tmp_path):
    for name in ("m.json", "MANIFEST.json"):
        with pytest.raises(ValueError, match="same file"):
            checkpoints.save_weights(tmp_path / name, {"w": torch.zeros(2)}, {"k": 1})
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("case", ["json", "manifest", "config_folder", "config_fifo", "bad_manifest", "part_folder"])
def test_export_targets_checked_before_training(tmp_path, capsys, monkeypatch, case):
    _no_training(monkeypatch)
    export_to = tmp_path / "model.safetensors"
    if case == "json":
        export_to = tmp_path / "m.json"
    elif case == "manifest":
        export_to = tmp_path / "MANIFEST.json"
    elif case == "config_folder":
        (tmp_path / "model.json").mkdir()
    elif case == "config_fifo":
        os.mkfifo(tmp_path / "model.json")
    elif case == "part_folder":
        (tmp_path / "model-part2.safetensors").mkdir()
    else:
        (tmp_path / "MANIFEST.json").write_text("{not json")
    code, _, err = run(capsys, "train", "--out", tmp_path / "run", "--steps", "1", "--export", export_to)
    assert code == 2
    one_line_error(err, "--export")
    assert not (tmp_path / "run").exists() and not [p for p in tmp_path.glob("*.safetensors") if p.is_file()]


def test_out_symlink_loop_is_refused_and_kept(tmp_path, capsys):
    loop = tmp_path / "a.json"
    os.symlink(tmp_path / "b.json", loop)
    os.symlink(loop, tmp_path / "b.json")
    code, _, err = run(capsys, "search", *TOY, "--out", loop)
    assert code == 2
    one_line_error(err, "--out", "symlink loop")
    assert loop.is_symlink() and (tmp_path / "b.json").is_symlink()
    code, _, err = run(capsys, "train", "--out", loop, "--steps", "1")  # a run folder that is a loop
    assert code == 2
    one_line_error(err, "--out", "symlink loop")


def test_sample_outputs_that_are_one_file_are_refused(tmp_path, capsys):
    png = tmp_path / "x.png"
    png.write_bytes(b"old picture")
    os.symlink(png, tmp_path / "x.npy")
    code, _, err = run(capsys, "sample", "--model", "gmm-toy", "--steps", "2", "--n", "4", "--out", png)
    assert code == 2
    one_line_error(err, "--out", "same file")
    assert png.read_bytes() == b"old picture" and (tmp_path / "x.npy").is_symlink()


def test_replacing_a_file_keeps_its_mode(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "private.json"
        path.write_text("{}")
        os.chmod(path, 0o600)
        files.atomic_write_bytes(path, b"[1]")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_bytes() == b"[1]"
        new = tmp_path / "new.json"
        files.atomic_write_bytes(new, b"[]")
        assert stat.S_IMODE(new.stat().st_mode) == 0o644  # a new file: 0666 less the umask
    finally:
        os.umask(old)


def test_a_second_train_on_one_folder_is_refused(tmp_path):
    from filelock import FileLock

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with FileLock(run_dir / ".lock"):  # another `gitscore train` holds the folder
        with pytest.raises(ValueError, match="in use by another `gitscore train`"):
            train(_images(), run_dir, _train_cfg(), **QUIET)
    assert not (run_dir / "train_log.csv").exists()
    train(_images(), run_dir, _train_cfg(), **QUIET)  # released: it runs
    assert _log_steps(run_dir) == [1, 2, 3, 4]


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("bench")
    bench.run_bench(_bench_cfg(), out, progress=False, command="test")
    return out


def _copy_run(src, dst):
    dst.mkdir()
    for name in ("results.json", "results.csv", "reference.safetensors"):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_reference_is_refused(tmp_path, bench_run, damage):
    ref = tmp_path / "src"
    _copy_run(bench_run, ref)
    blob = (ref / "reference.safetensors").read_bytes()
    state = json.loads((ref / "results.json").read_text())
    assert state["reference"]["sha256"] == hashlib.sha256(blob).hexdigest()  # recorded when written
    if damage == "flip":
        blob = blob[:-3] + bytes([blob[-3] ^ 0x40]) + blob[-2:]  # one byte of the data: still loads
    else:
        blob = blob[:len(blob) // 2]
    (ref / "reference.safetensors").write_bytes(blob)
    with pytest.raises(ValueError, match=r"reference.safetensors .*(corrupted|not a valid).*delete it"):
        bench.run_bench(_bench_cfg(), tmp_path / "new", progress=False, reference_from=ref)
    # a resumed run (one row left to do) checks its own reference too
    resumed = _copy_run(bench_run, tmp_path / "resumed")
    state["rows"] = []
    (resumed / "results.json").write_text(json.dumps(state))
    (resumed / "reference.safetensors").write_bytes(blob)
    with pytest.raises(ValueError, match=r"reference.safetensors .*(corrupted|not a valid).*delete it"):
        bench.run_bench(_bench_cfg(), resumed, progress=False)
    assert json.loads((resumed / "results.json").read_text())["rows"] == []


def test_empty_checkpoint_is_refused(capsys):
    code, _, err = run(capsys, "sample", "--model", "fmnist", "--checkpoint", "", "--steps", "1", "--n", "1")
    assert code == 2
    one_line_error(err, "--checkpoint ''", "is empty")
    with pytest.raises(ValueError, match="checkpoint is empty"):  # the library does not fall back either
        models.load_model("fmnist", checkpoint="", device="cpu")


def test_empty_out_and_trailing_slash_are_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "search", *TOY, "--out", "")
    assert code == 2 and out == ""
    one_line_error(err, "--out ''")
    code, out, err = run(capsys, "search", *TOY, "--out", "foo.json/")
    assert code == 2
    one_line_error(err, "--out 'foo.json/'", "slash")
    assert not list(tmp_path.iterdir())


# ================================================================ tracebacks that are now one-line errors

def test_search_grid_points_beyond_memory(capsys):
    code, _, err = run(capsys, "search", "--model", "gmm-toy", "--grid-points", "100000000000")
    assert code == 2
    one_line_error(err, "--grid-points 100000000000", "memory")


@pytest.mark.parametrize("field, value, flag", [("nfes", [10_000_000_000_000], "--nfe"),
                                                ("grid_points", 100_000_000_000, "--grid-points"),
                                                ("n_warmup", 100_000_000_000, "--n-warmup")])
def test_bench_sizes_beyond_memory_refused_before_work(field, value, flag):
    cfg = _bench_cfg(schedules=["polynomial"] if field == "nfes" else ["polynomial", "gits_dev"], **{field: value})
    with pytest.raises(ValueError, match=f"{flag} .*would allocate"):
        cfg.validate()


def test_sample_n_beyond_the_disk(tmp_path, capsys):
    code, _, err = run(capsys, "sample", "--model", "gmm-toy", "--n", "100000000000000", "--out", tmp_path / "x.png")
    assert code == 2
    one_line_error(err, "--n 100000000000000", "free")
    assert not list(tmp_path.iterdir())


def test_deeply_nested_sigmas_file(tmp_path, capsys):
    path = tmp_path / "s.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="nested too deeply"):
        export.from_json(path.read_text())
    code, _, err = run(capsys, "sample", "--model", "gmm-toy", "--sigmas-file", path, "--out", tmp_path / "x.png")
    assert code == 2
    one_line_error(err, "--sigmas-file", "nested too deeply")


def _model_checkpoint(folder, config_change):
    """A tiny network's model file whose config (manifest updated to match) is then changed."""
    net = nets.build_denoiser({"unet": TINY_UNET})
    path = folder / "net.safetensors"
    config = {"unet": dict(TINY_UNET, in_channels=1), "sigma_data": 0.5}
    checkpoints.save_weights(path, net.state_dict(), config)
    config_change(config)
    checkpoints.save_weights(path, net.state_dict(), config)  # sha256 matches: only the config is hostile
    return path


@pytest.mark.parametrize("change, match", [
    (lambda c: c["unet"].update(channels=[200000, 200000, 200000]), "does not match its config"),
    (lambda c: c.update(sigma_data="x"), "sigma_data' must be a finite number"),
    (lambda c: c["unet"].update(blocks="2"), "unet.blocks' must be an integer"),
])
def test_hostile_config_is_refused_before_building(tmp_path, change, match):
    path = _model_checkpoint(tmp_path, change)
    with pytest.raises(checkpoints.CheckpointError, match=match):
        nets.load_checkpoint(path)


def test_parts_that_are_not_a_mapping_are_refused(tmp_path):
    path = _weights_file(tmp_path, metadata={checkpoints.PARTS_KEY: json.dumps(["m-part2.safetensors"])})
    with pytest.raises(checkpoints.CheckpointError, match="must map part file names to sha256"):
        checkpoints.load_weights(path)


@pytest.mark.parametrize("content, match", [
    ("[1, 2]", "must hold a JSON object"),
    ('{"rows": [{"nfe": 3}]}', "row without solver"),
    ("garbage {", "not valid JSON"),
])
def test_damaged_bench_results_are_one_line(tmp_path, capsys, content, match):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text(content)
    code, _, err = run(capsys, "bench", "--model", "kde", "--kde-size", "50", "--solvers", "euler", "--schedules",
                       "polynomial", "--nfe", "3", "--n-fd", "0", "--n-ref", "2", "--ref-steps", "4", "--out", out,
                       "--no-progress")
    assert code == 2
    one_line_error(err, str(out / "results.json"), match, "delete it")
    assert (out / "results.json").read_text() == content


def test_truncated_reference_of_a_resumed_bench_is_one_line(tmp_path, capsys, bench_run):
    out = _copy_run(bench_run, tmp_path / "out")
    blob = (out / "reference.safetensors").read_bytes()
    (out / "reference.safetensors").write_bytes(blob[:40])
    code, _, err = run(capsys, "bench", "--model", "kde", "--kde-size", "50", "--solvers", "euler", "--schedules",
                       "polynomial", "--nfe", "3", "--n-fd", "0", "--n-ref", "2", "--ref-steps", "4", "--n-warmup",
                       "4", "--grid-points", "9", "--batch-size", "2", "--out", out, "--no-progress")
    assert code == 2
    one_line_error(err, "reference.safetensors", "delete it")


def _idx_gz(path, dims, payload_size):
    head = bytes([0, 0, 8, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(head)
        chunk = bytes(1 << 20)
        for _ in range(payload_size >> 20):
            f.write(chunk)
        f.write(bytes(payload_size & ((1 << 20) - 1)))


def test_gzip_bomb_stops_at_the_announced_size(tmp_path, monkeypatch):
    bomb = tmp_path / "train-labels-idx1-ubyte.gz"
    _idx_gz(bomb, (60000,), 64 << 20)  # announces 60,000 bytes, holds 64 MiB
    assert bomb.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="more data than its IDX header announces"):
            data._read_idx(bomb, True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20  # never the whole 64 MiB
    # through the data folder: a message, no traceback
    for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        _idx_gz(tmp_path / name, (1,), 1)
    monkeypatch.setenv("GITSCORE_DATA", str(tmp_path))
    with pytest.raises(ValueError, match="announces shape"):
        data.fashion_mnist("train")


def _enospc(*args, **kw):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_full_disk_during_search_names_the_path(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "fsync", _enospc)
    out = tmp_path / "s.json"
    code, _, err = run(capsys, "search", *TOY, "--out", out)
    assert code == 2
    one_line_error(err, str(out), "No space left on device")
    assert not list(tmp_path.iterdir())  # no temporary file left


def test_full_disk_during_train_names_the_path(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", _enospc)
    with pytest.raises(OSError, match=r"train_log.csv.*No space left on device.*free some space"):
        train(_images(), tmp_path / "run", _train_cfg(steps=2), **QUIET)


def test_full_disk_during_bench_names_the_path(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.setattr(os, "fsync", _enospc)
    with pytest.raises(OSError, match=r"reference.safetensors.*No space left on device"):
        bench.run_bench(_bench_cfg(), tmp_path / "out", progress=False, command="test")
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_full_disk_during_sample_is_an_error_not_sigbus(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "posix_fallocate", _enospc, raising=False)
    out = tmp_path / "a.png"
    code, _, err = run(capsys, "sample", "--model", "gmm-toy", "--steps", "2", "--n", "4", "--out", out)
    assert code == 2
    one_line_error(err, "a.npy", "No space left on device")
    assert not list(tmp_path.iterdir())  # the temporary .npy is gone


@pytest.mark.parametrize("damaged", ["LATEST", "train_log.csv"])
def test_a_non_utf8_byte_does_not_make_a_run_unresumable(tmp_path, damaged):
    run_dir = tmp_path / "run"
    train(_images(), run_dir, _train_cfg(), stop_after=2, **QUIET)
    with open(run_dir / damaged, "ab") as f:
        f.write(b"\xff\xfe garbage\n")
    train(_images(), run_dir, _train_cfg(), **QUIET)
    assert _log_steps(run_dir) == [1, 2, 3, 4]
    assert "\ufffd" not in (run_dir / "train_log.csv").read_text()


# ================================================================ security

@pytest.mark.parametrize("where", ["relative", "absolute"])
def test_parts_must_be_beside_their_file(tmp_path, where):
    outside = tmp_path / "outside"
    outside.mkdir()
    evil = save({"v": torch.ones(2)})
    (outside / "evil.safetensors").write_bytes(evil)
    folder = tmp_path / "a" / "b"
    folder.mkdir(parents=True)
    name = "../../outside/evil.safetensors" if where == "relative" else str(outside / "evil.safetensors")
    path = _weights_file(folder, metadata={checkpoints.PARTS_KEY: json.dumps({name: hashlib.sha256(evil).hexdigest()})})
    with pytest.raises(checkpoints.CheckpointError, match="outside its folder"):
        checkpoints.load_weights(path)


# ================================================================ also

def test_the_split_between_parts_does_not_depend_on_dict_order(tmp_path):
    tensors = {f"t{i}": torch.full((100,), float(i)) for i in range(6)}
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    checkpoints.save_weights(a / "w.safetensors", tensors, {"k": 1}, part_bytes=1000)
    checkpoints.save_weights(b / "w.safetensors", dict(reversed(tensors.items())), {"k": 1}, part_bytes=1000)
    files = sorted(p.name for p in a.iterdir())
    assert files == sorted(p.name for p in b.iterdir()) and len(files) > 3
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)


def test_killed_and_resumed_training_writes_identical_checkpoints(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.setattr(checkpoints, "PART_BYTES", 16 << 10)  # the tiny net's checkpoint in several parts
    cfg = _train_cfg(steps=4, checkpoint_every=2)
    train(_images(), tmp_path / "whole", cfg, **QUIET)
    train(_images(), tmp_path / "killed", cfg, stop_after=2, **QUIET)
    train(_images(), tmp_path / "killed", cfg, **QUIET)
    parts = sorted((tmp_path / "whole" / "ckpt-00000004").glob("*.safetensors"))
    assert len(parts) > 2
    for part in parts:
        assert part.read_bytes() == (tmp_path / "killed" / "ckpt-00000004" / part.name).read_bytes(), part.name


@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_checkpoint_that_is_not_a_regular_file(tmp_path, capsys, special):
    path = "/dev/zero"
    if special == "fifo":
        path = tmp_path / "p.safetensors"
        os.mkfifo(path)
    code, _, err = run(capsys, "search", "--model", "fmnist", "--checkpoint", path)
    assert code == 2
    one_line_error(err, f"--checkpoint {path}", "not a regular file")


def test_kde_size_refused_before_the_data_loads(capsys, monkeypatch):
    def refuse(*a, **kw):
        raise AssertionError("the data was loaded before --kde-size was checked")
    monkeypatch.setattr("gitscore.models.fmnist_images", refuse)
    code, _, err = run(capsys, "search", "--model", "kde", "--kde-size", "999999999")
    assert code == 2
    one_line_error(err, "--kde-size", "999999999", "60000")
    with pytest.raises(ValueError, match="--kde-size"):
        _bench_cfg(kde_size=999999999).validate()
    with pytest.raises(ValueError, match="kde_size must be an integer in"):
        models.load_model("kde", kde_size=999999999, device="cpu")


def test_sigmas_file_out_of_range_refused_before_sampling(tmp_path, capsys):
    path = tmp_path / "s.json"
    path.write_text("[1e308, 1e300, 0.002]")
    code, _, err = run(capsys, "sample", "--model", "gmm-toy", "--sigmas-file", path, "--out", tmp_path / "x.png")
    assert code == 2
    one_line_error(err, "--sigmas-file", "must lie in")
    assert not list(tmp_path.glob("x.*"))


X = torch.randn(2, 2, dtype=torch.float64)
S = schedules.polynomial(3, 0.1, 10.0)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: solvers.sample_euler(lambda x, s: x, X, None), TypeError, "sigmas must be"),
    (lambda: sampling.sample(lambda x, s: x, "euler", None, 2, seed=0, shape=(2,)), TypeError, "sigmas must be"),
    (lambda: solvers.sample_euler(lambda x, s: x, torch.tensor(1.0), S), ValueError, "x must be a .B, .... tensor"),
    (lambda: sampling.sample(lambda x, s: x, "euler", S, 2, seed=0, shape=(-2,)), ValueError, "shape must be"),
    (lambda: solvers.sample_euler(lambda x, s: torch.empty_like(x, device="meta"), X, S), TypeError, "meta tensor"),
    (lambda: solvers.sample_euler(lambda x, s: x.long(), X, S), TypeError, "dtype torch.int64"),
    (lambda: solvers.sample_ipndm(lambda x, s: x, X, S, order=2.0), ValueError, "order must be one of"),
], ids=["sigmas_none", "sample_sigmas_none", "x_0dim", "shape_negative", "meta_output", "int64_output",
        "order_float"])
def test_library_errors_name_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_argparse_errors_are_one_line(capsys):
    code, out, err = run(capsys, "search", "--steps", "x")
    assert code == 2 and out == ""
    one_line_error(err, "--steps", "see gitscore search --help")
    assert "usage:" not in err
    code, _, err = run(capsys, "nosuchcommand")
    assert code == 2
    one_line_error(err, "see gitscore --help")


def test_gits_still_refuses_nothing_it_should_run(tmp_path, capsys):
    """The new checks leave ordinary runs alone: a search and a sample on the toy write their files."""
    code, _, _ = run(capsys, "search", *TOY, "--out", tmp_path / "s.json")
    assert code == 0
    code, _, _ = run(capsys, "sample", "--model", "gmm-toy", "--sigmas-file", tmp_path / "s.json", "--n", "3",
                     "--out", tmp_path / "x.png")
    assert code == 0 and np.load(tmp_path / "x.npy").shape == (3, 2)
