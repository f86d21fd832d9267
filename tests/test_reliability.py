"""Nothing lost, nothing exhausted: run-directory locks, state files that survive damage, and
every entry point answering bad input with one `error:` line (never a traceback); readers
that turn any byte string into a result or the package's own error (hypothesis)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aasist.errors import AasistError, DownloadError
from aasist.fileio import FolderLock
from conftest import CONFIG_DIR, LA_EVAL_LIKE, ROOT, run_cli, tiny_corpus

TINY = ["num_epochs=2", "batch_size=8", "model_config.nb_samp=4000", "num_workers=0",
        "use_cache=false", "mini_corpus=false", "swa=false"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return tiny_corpus(tmp_path_factory.mktemp("mini"), seed=2, train=(8, 16))


def _train_args(corpus, out, *extra):
    sets = [a for o in [*TINY, f"database_path={corpus}", *extra] for a in ("--set", o)]
    return ["train", "--config", CONFIG_DIR / "mini.conf", *sets, "--out", out]


def _one_error_line(result, *needles):
    assert result.returncode != 0, result
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error: ") and "Traceback" not in result.stderr, \
        result.stderr
    for needle in needles:
        assert needle in lines[-1], (needle, lines[-1])
    return lines[-1]


# --------------------------------------------------------------------------- the run lock


def _holder(folder: Path) -> subprocess.Popen:
    """Another process that holds the lock on ``folder`` until killed."""
    code = (f"from aasist.fileio import FolderLock; import time; "
            f"FolderLock({str(folder)!r}).acquire(); print('held', flush=True); time.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_trainer_is_refused_naming_the_holder(corpus, tmp_path, capsys):
    run = tmp_path / "run"
    holder = _holder(run)
    try:
        result = run_cli(capsys, *_train_args(corpus, run))
        _one_error_line(result, str(run), "in use by process", str(holder.pid), "another --out")
        result = run_cli(capsys, *_train_args(corpus, run), "--resume")
        _one_error_line(result, f"process {holder.pid}")
        assert sorted(p.name for p in run.iterdir()) == [".lock"]  # nothing written
    finally:
        holder.kill()
        holder.wait()
    # the holder was killed: its lock went with it, and the directory is usable at once
    with FolderLock(run):
        pass


def test_folder_lock_is_exclusive_and_released(tmp_path):
    first = FolderLock(tmp_path / "x", "thing", "try later").acquire()
    holder_info = json.loads((tmp_path / "x" / ".lock").read_text())
    assert holder_info["pid"] == os.getpid()
    code = (f"from aasist.fileio import FolderLock\n"
            f"try:\n    FolderLock({str(tmp_path / 'x')!r}, 'thing', 'try later').acquire()\n"
            f"except Exception as e:\n    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out.startswith("BusyError") and f"process {os.getpid()}" in out and "try later" in out
    first.release()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out == ""  # free again


@pytest.mark.slow
def test_two_trainers_at_once_the_second_refused_the_first_finishes_each_epoch_once(corpus, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "aasist", *map(str, _train_args(corpus, run))]
    first = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run / "config.conf").is_file():  # the first one is training
        assert time.time() < deadline and first.poll() is None, first.communicate()
        time.sleep(0.2)
    second = subprocess.run([*cmd, "--resume"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert second.returncode == 1 and second.stderr.count("\n") == 1, second.stderr
    assert f"in use by process {first.pid}" in second.stderr
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    epochs = [line.split(",")[0] for line in (run / "metrics.csv").read_text().splitlines()[1:]]
    assert epochs == ["0", "1"]


# --------------------------------------------------------------------------- state files


@pytest.fixture(scope="module")
def finished_run(corpus, tmp_path_factory):
    """A finished 2-epoch run directory (read-only for the tests: they copy it)."""
    from aasist.config import load_config
    from aasist.train import train

    out = tmp_path_factory.mktemp("runs") / "run"
    train(load_config(CONFIG_DIR / "mini.conf", [*TINY, f"database_path={corpus}"]), out,
          progress=False)
    return out


def _copy_run(run: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(run, dest, ignore=shutil.ignore_patterns(".lock"))
    return dest


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage"])
def test_a_damaged_checkpoint_is_one_error_line_naming_it(finished_run, corpus, tmp_path,
                                                         capsys, damage):
    run = _copy_run(finished_run, tmp_path / "run")
    ckpt = run / "checkpoint.pt"
    data = ckpt.read_bytes()
    ckpt.write_bytes({"truncated": data[:len(data) // 2], "empty": b"", "garbage": b"\x00" * 99}[damage])
    result = run_cli(capsys, *_train_args(corpus, run), "--resume")
    _one_error_line(result, str(ckpt), "cannot resume")


@pytest.mark.slow
def test_a_damaged_run_config_is_one_error_line_naming_it(finished_run, corpus, tmp_path, capsys):
    run = _copy_run(finished_run, tmp_path / "run")
    (run / "config.conf").write_text('{"num_epochs": 3,')
    result = run_cli(capsys, *_train_args(corpus, run), "--resume")
    _one_error_line(result, str(run / "config.conf"), "not valid JSON")


@pytest.mark.slow
def test_a_runs_checkpoint_is_accepted_wherever_weights_are(finished_run, corpus, tmp_path, capsys):
    """predict --weights RUN/checkpoint.pt and init_weights=RUN/checkpoint.pt: the model
    weights of the checkpoint, loaded with torch.load(weights_only=True)."""
    ckpt = finished_run / "checkpoint.pt"
    state = torch.load(ckpt, weights_only=True)  # every part of it is safe to load
    clip = tmp_path / "clip.wav"
    sf.write(clip, 0.1 * np.random.default_rng(0).standard_normal(16000).astype(np.float32), 16000)
    from_ckpt = run_cli(capsys, "predict", "--quiet", "--weights", ckpt, clip)
    assert from_ckpt.returncode == 0, from_ckpt.stderr
    torch.save(state["model"], tmp_path / "last_epoch.pth")
    plain = run_cli(capsys, "predict", "--quiet", "--config", finished_run / "config.conf",
                    "--weights", tmp_path / "last_epoch.pth", clip)
    assert json.loads(from_ckpt.stdout)["score"] == json.loads(plain.stdout)["score"]
    result = run_cli(capsys, *_train_args(corpus, tmp_path / "ft", "num_epochs=1",
                                          f"init_weights={ckpt}"))
    assert result.returncode == 0, result.stderr


def test_rng_state_round_trips_through_a_weights_only_load(tmp_path):
    from aasist.train import _rng_state, _set_rng_state

    np.random.seed(7)
    np.random.standard_normal(3)
    torch.save(_rng_state(), tmp_path / "rng.pt")
    expected = np.random.standard_normal(5)
    np.random.seed(99)
    _set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert np.array_equal(np.random.standard_normal(5), expected)


def test_download_state_falls_back_to_its_last_good_copy_then_refuses(tmp_path):
    from aasist.download import _read_state, _write_state

    state_path = tmp_path / ".aasist_itw_archives.json"
    assert _read_state(state_path) == {}  # nothing yet
    record = {"a.zip": {"size": 3, "md5": "0" * 32, "sha256": "1" * 64, "extracted": True}}
    _write_state(state_path, record)
    state_path.write_text('{"a.zip": {"size"')  # truncated by a crash or a full disk
    assert _read_state(state_path) == record  # the recorded checksums are not dropped
    state_path.with_name(state_path.name + ".bak").write_text("[]")
    with pytest.raises(DownloadError, match=r"\.aasist_itw_archives\.json: the record of verified "
                                            r"archives is damaged.*delete it"):
        _read_state(state_path)


# --------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    sf.write(folder / "nan.wav", np.full(16000, np.nan, np.float32), 16000, subtype="FLOAT")
    sf.write(folder / "good.wav", 0.1 * np.sin(np.arange(16000) / 9).astype(np.float32), 16000)
    (folder / "binary.conf").write_bytes(bytes(range(256)))
    (folder / "list.conf").write_text("[1, 2]")
    (folder / "empty.wav").write_bytes(b"")
    (folder / "junk.wav").write_bytes(b"RIFF\x00\x00junk")
    (folder / "junk.pth").write_bytes(b"not torch")
    (folder / "a_folder").mkdir()
    (folder / "scores.txt").write_text("u1 - bonafide 1.0\nu2 A01 spoof x\n")
    return folder


BAD_INPUTS = [
    # (arguments, words the error line must hold); {d} is the folder of bad files
    (["stream", "--input", "{d}/nan.wav"], ["nan.wav", "NaN"]),
    (["stream", "--input", "{d}/empty.wav"], ["empty.wav"]),
    (["stream", "--input", "{d}/junk.wav"], ["junk.wav", "cannot decode"]),
    (["stream", "--input", "{d}/missing.wav"], ["missing.wav", "not found"]),
    (["stream", "--rate", "0"], ["rate"]),
    (["stream", "--hop", "99"], ["hop"]),
    (["metrics", "--scores", "{d}/scores.txt"], ["scores.txt:2", "not a number"]),
    (["metrics", "--scores", str(LA_EVAL_LIKE / "cm_scores.txt"), "--json", "{d}/a_folder"],
     ["a_folder", "folder"]),
    (["metrics", "--scores", "{d}/a_folder"], ["a_folder", "folder"]),
    (["metrics", "--corpus", "itw", "--scores", "{d}/scores.txt"], ["--keys"]),
    (["metrics", "--corpus", "itw", "--scores", "{d}/scores.txt", "--keys", "{d}/a_folder"],
     ["a_folder", "keys not found"]),
    (["predict", "--config", "{d}/binary.conf", "{d}/good.wav"], ["binary.conf", "not a text file"]),
    (["predict", "--config", "{d}/a_folder", "{d}/good.wav"], ["a_folder", "folder"]),
    (["predict", "--config", "{d}/list.conf", "{d}/good.wav"], ["list.conf", "JSON object"]),
    (["predict", "--config", "no_such_recipe", "{d}/good.wav"], ["no_such_recipe", "mini"]),
    (["predict", "--weights", "{d}/junk.pth", "--config", "mini", "{d}/good.wav"],
     ["junk.pth", "not a readable PyTorch checkpoint"]),
    (["predict", "--weights", "{d}/a_folder", "{d}/good.wav"], ["a_folder"]),
    (["predict", "--set", "batch_size=0", "{d}/good.wav"], ["batch_size"]),
    (["predict", "--hop", "-1", "{d}/good.wav"], ["hop"]),
    (["train", "--config", "{d}/binary.conf"], ["binary.conf"]),
    (["train", "--config", "mini", "--set", "num_epochs=0"], ["num_epochs", "at least 1"]),
    (["train", "--config", "mini", "--set", "model_config.filts=[1]"], ["model_config.filts"]),
    (["evaluate", "--config", "mini", "--weights", "{d}/junk.pth"], ["junk.pth"]),
    (["evaluate", "--weights", "official:RawNet2"], ["official:AASIST-L"]),
    (["make-mini", "--dest", "{d}/binary.conf"], ["binary.conf"]),
    (["download", "--corpus", "itw", "--zip", "x.zip"], ["--zip"]),
]


@pytest.mark.parametrize("args,needles", BAD_INPUTS, ids=[" ".join(a[:2]) + f"-{i}"
                                                          for i, (a, _) in enumerate(BAD_INPUTS)])
def test_bad_input_is_one_error_line_naming_it(bad, capsys, args, needles):
    result = run_cli(capsys, *[a.format(d=bad) for a in args])
    _one_error_line(result, *needles)


def test_a_batch_goes_on_past_bad_files(bad, capsys):
    result = run_cli(capsys, "predict", "--quiet", bad / "good.wav", bad / "nan.wav",
                     bad / "junk.wav", bad / "empty.wav", bad / "missing.wav")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1 and [("error" in r) for r in rows] == [False, True, True, True, True]
    assert "score" in rows[0] and all(Path(r["path"]).name in r["error"] or "no such" in r["error"]
                                      for r in rows[1:])
    _one_error_line(result, "4 file(s) could not be scored")


# --------------------------------------------------------------------------- any bytes


def _with_bytes(data: bytes, suffix: str, read):
    """``read(path)`` of a temporary file holding ``data``: a result, or AasistError."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"f{suffix}"
        path.write_bytes(data)
        try:
            return read(path)
        except AasistError:
            return None


_LINES = st.lists(st.one_of(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(["LA_0079 LA_T_1 - A01 spoof", "LA_0079 LA_T_2 - - bonafide", "u1 - bonafide 1.5",
                     "u2 A07 spoof -2", "bonafide target 2.5", "A07 spoof 0.4", "filename\tcm-score",
                     "filename\tcm-label", "E_1 bonafide", "x 1e309", "file,speaker,label",
                     "0.wav,Someone,bona-fide", "# comment", ""])), max_size=12)
_BYTES = st.one_of(st.binary(max_size=300), _LINES.map(lambda ls: "\n".join(ls).encode()))
_FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("reader", ["read_cm_protocol", "read_in_the_wild", "read_asvspoof5_protocol",
                                    "read_2021_metadata", "read_2021_asv_metadata"])
@_FAST
@given(data=_BYTES)
def test_protocol_readers_take_any_bytes(reader, data):
    from aasist.data import protocols

    _with_bytes(data, ".txt", getattr(protocols, reader))


@pytest.mark.parametrize("reader", ["read_cm_scores", "read_asv_scores", "read_trial_scores",
                                    "read_asvspoof5_scores", "read_2021_asv_scores"])
@_FAST
@given(data=_BYTES)
def test_score_readers_take_any_bytes(reader, data):
    from aasist.data import scores

    result = _with_bytes(data, ".txt", getattr(scores, reader))
    values = getattr(result, "scores", None)
    if isinstance(values, np.ndarray):
        assert np.isfinite(values).all()  # a score file read is finite, or refused


_JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                        | st.text(max_size=10),
                        lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)


@_FAST
@given(data=st.one_of(st.binary(max_size=200), _JSONISH.map(lambda v: json.dumps(v).encode()),
                      st.dictionaries(st.sampled_from(["num_epochs", "batch_size", "model_config",
                                                       "optim_config", "database_path", "augment"]),
                                      _JSONISH, max_size=6).map(lambda v: json.dumps(v).encode())))
def test_config_reader_takes_any_bytes(data):
    from aasist.config import load_config

    _with_bytes(data, ".conf", load_config)


def _wav_header(rate: int, channels: int, bits: int, frames: int) -> bytes:
    block = channels * bits // 8
    body = bytes(frames * block)
    return (b"RIFF" + (36 + len(body)).to_bytes(4, "little") + b"WAVEfmt "
            + (16).to_bytes(4, "little") + (1).to_bytes(2, "little")
            + channels.to_bytes(2, "little") + rate.to_bytes(4, "little")
            + (rate * block).to_bytes(4, "little") + block.to_bytes(2, "little")
            + bits.to_bytes(2, "little") + b"data" + len(body).to_bytes(4, "little") + body)


@_FAST
@given(data=st.one_of(
    st.binary(max_size=300),
    st.builds(_wav_header, st.integers(0, 200_000), st.integers(0, 3), st.sampled_from([0, 8, 16, 24, 32]),
              st.integers(0, 200)),
    st.builds(lambda h, cut: h[:cut], st.builds(_wav_header, st.integers(1, 96_000), st.integers(1, 2),
                                               st.just(16), st.integers(1, 100)),
              st.integers(0, 300))))
def test_audio_reader_takes_any_bytes(data):
    from aasist.data.audio import read_audio

    result = _with_bytes(data, ".wav", read_audio)
    if result is not None:
        x, rate = result
        assert x.dtype == np.float32 and x.ndim == 1 and len(x) > 0 and rate > 0
        assert np.isfinite(x).all()
