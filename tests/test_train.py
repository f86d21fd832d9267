"""Training: run directory, exact resume after SIGKILL, refusals, NaN stop, DDP on CPU."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys

import pytest
import torch

from aasist.config import load_config
from aasist.pretrained import build_model
from aasist.train import TrainingError, build_optimizer, train
from conftest import CONFIG_DIR, ROOT, run_cli, tiny_corpus

TINY = ["num_epochs=2", "batch_size=8", "model_config.nb_samp=4000", "num_workers=0",
        "use_cache=false", "mini_corpus=false", "swa=true"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return tiny_corpus(tmp_path_factory.mktemp("mini"), seed=1, train=(8, 16))


def _overrides(corpus, *extra):
    return [*TINY, f"database_path={corpus}", *extra]


def _set_args(overrides):
    return [a for o in overrides for a in ("--set", o)]


def test_cosine_schedule_runs_from_base_to_min():
    config = load_config(CONFIG_DIR / "AASIST-L.conf")
    model = torch.nn.Linear(2, 2)
    optimizer, scheduler = build_optimizer(model, config["optim_config"], total_steps=10)
    lrs = []
    for _ in range(10):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    assert lrs[0] == pytest.approx(1e-4)
    assert scheduler.get_last_lr()[0] == pytest.approx(5e-6)
    assert all(a > b for a, b in zip(lrs, lrs[1:]))
    assert optimizer.defaults["weight_decay"] == 1e-4 and optimizer.defaults["betas"] == (0.9, 0.999)


@pytest.mark.slow
def test_train_writes_the_run_directory(corpus, tmp_path):
    config = load_config(CONFIG_DIR / "mini.conf", _overrides(corpus, "eval_all_best=true"))
    out = tmp_path / "run"
    result = train(config, out, progress=False)
    for name in ("config.conf", "metrics.csv", "checkpoint.pt", "weights/best_dev.pth", "weights/swa.pth",
                 "eval_scores.txt", "metrics.json", "run_info.json", "training_curves.png",
                 "eval_det_curve.png", "eval_score_histograms.png", "eval_per_attack_eer.png"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["eval_eer_percent"] == result["eval_eer_percent"]
    assert metrics["final_weights"] == str(out / "weights" / "swa.pth")
    assert 0 <= metrics["eval_min_tdcf"] and set(metrics["eval_per_attack_eer_percent"]) <= {
        f"A{i:02d}" for i in range(7, 20)}
    rows = (out / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("epoch,train_loss,lr,dev_eer_percent")
    lines = (out / "eval_scores.txt").read_text().splitlines()
    assert len(lines) == 24 and all(len(line.split()) == 4 for line in lines)
    info = json.loads((out / "run_info.json").read_text())
    assert info["device"] == "cpu" and info["torch"] == torch.__version__
    # official key names: the SWA weights load into a fresh model as-is
    import aasist
    aasist.load_weights(aasist.build_model(config["model_config"]), out / "weights" / "swa.pth")


def test_existing_run_directory_is_never_overwritten(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    proc = run_cli(capsys, "train", "--config", str(CONFIG_DIR / "mini.conf"), *_set_args(_overrides(corpus)),
                "--out", str(out))
    assert proc.returncode == 1 and "already holds files" in proc.stderr
    assert (out / "notes.txt").read_text() == "mine"
    proc = run_cli(capsys, "train", "--config", str(CONFIG_DIR / "mini.conf"), *_set_args(_overrides(corpus)),
                "--out", str(tmp_path / "fresh"), "--resume")
    assert proc.returncode == 1 and "nothing to resume" in proc.stderr


def test_missing_dataset_says_how_to_download(tmp_path, capsys):
    proc = run_cli(capsys, "train", "--config", str(CONFIG_DIR / "AASIST-L.conf"), "--set",
                f"database_path={tmp_path / 'LA'}", "--out", str(tmp_path / "run"))
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert "aasist download" in proc.stderr and "protocol not found" in proc.stderr


def test_unknown_key_lists_valid_keys(corpus, capsys):
    proc = run_cli(capsys, "train", "--config", str(CONFIG_DIR / "mini.conf"), "--set", "epochs=3")
    assert proc.returncode == 1 and "valid keys" in proc.stderr and "num_epochs" in proc.stderr


# A per-clip codec (in the data loader) and batch transforms (on the training device).
AUGMENT = ('augment=[{"name": "codec", "p": 0.5}, {"name": "noise", "p": 0.5}, '
           '{"name": "rawboost", "p": 0.7, "algo": 5}]')


@pytest.mark.slow
@pytest.mark.parametrize("extra", [[], [AUGMENT]], ids=["plain", "augmented"])
def test_sigkill_after_first_epoch_then_resume_gives_identical_scores(corpus, tmp_path, capsys, extra):
    args = ["train", "--config", str(CONFIG_DIR / "mini.conf"), *_set_args(_overrides(corpus, *extra))]
    whole = run_cli(capsys, *args, "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr[-2000:]

    killed = tmp_path / "killed"
    # The child SIGKILLs itself right after writing its first checkpoint.pt: no race with a poller.
    child = (f"import os, signal, sys\nimport aasist.train as t\nfrom aasist import cli\n"
             f"save = t.atomic_torch_save\n"
             f"def save_then_die(obj, path):\n    save(obj, path)\n"
             f"    if str(path).endswith('checkpoint.pt'):\n        os.kill(os.getpid(), signal.SIGKILL)\n"
             f"t.atomic_torch_save = save_then_die\nsys.exit(cli.main({[*args, '--out', str(killed)]!r}))\n")
    proc = subprocess.run([sys.executable, "-c", child], cwd=ROOT, capture_output=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert (killed / "checkpoint.pt").is_file() and not (killed / "metrics.json").exists()

    resumed = run_cli(capsys, *args, "--out", str(killed), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming" in resumed.stdout
    assert (killed / "eval_scores.txt").read_text() == (tmp_path / "whole" / "eval_scores.txt").read_text()
    assert len((killed / "metrics.csv").read_text().splitlines()) == 3


@pytest.mark.slow
def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(corpus, tmp_path, monkeypatch):
    config = load_config(CONFIG_DIR / "mini.conf", _overrides(corpus, "num_epochs=1", "swa=false"))
    out = tmp_path / "run"
    train(config, out, progress=False)
    good = torch.load(out / "checkpoint.pt", weights_only=False)["state"]["epoch"]

    import aasist.nn.aasist
    monkeypatch.setattr(aasist.nn.aasist.Model, "forward",
                        lambda self, x, freq_aug=False, return_hidden=False: torch.full((len(x), 2), math.nan))
    config2 = load_config(CONFIG_DIR / "mini.conf", _overrides(corpus, "num_epochs=1", "swa=false"))
    with pytest.raises(TrainingError, match="loss became nan .* checkpoint.pt"):
        train(config2, tmp_path / "run2", progress=False)
    assert torch.load(out / "checkpoint.pt", weights_only=False)["state"]["epoch"] == good


def _tree_digest(root) -> dict[str, str]:
    """sha256 of every file under ``root``, by relative path."""
    import hashlib

    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _first_epoch_loss(run_dir) -> float:
    import csv

    with open(run_dir / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1 and rows[0]["epoch"] in ("0", "1")
    return float(rows[0]["train_loss"])


@pytest.mark.slow
def test_augmentation_changes_training_but_not_the_data(corpus, tmp_path):
    from aasist.evaluate import evaluate_weights

    before = _tree_digest(corpus)
    assert any(name.endswith(".flac") for name in before)
    plain = load_config(CONFIG_DIR / "mini.conf", _overrides(corpus, "num_epochs=1", "swa=false"))
    robust = load_config(CONFIG_DIR / "mini.conf", _overrides(corpus, "num_epochs=1", "swa=false", AUGMENT))
    a = train(plain, tmp_path / "plain", progress=False)
    again = train(plain, tmp_path / "plain_again", progress=False)
    b = train(robust, tmp_path / "robust", progress=False)

    # Training changes: the same seeded run repeats its loss exactly, so the augmented run's
    # different loss comes from the augmentation, not from run-to-run noise.
    loss = {run: _first_epoch_loss(tmp_path / run) for run in ("plain", "plain_again", "robust")}
    assert all(math.isfinite(v) and v > 0 for v in loss.values()), loss
    assert loss["plain"] == loss["plain_again"], loss
    assert loss["robust"] != loss["plain"], loss
    assert again["eval_eer_percent"] == a["eval_eer_percent"]
    for result in (a, b):
        assert 0 <= result["eval_eer_percent"] <= 100, result
        assert 0 <= result["best_dev_eer_percent"] <= 100, result

    # The data does not: no corpus file was added, removed or rewritten by the augmenter ...
    assert _tree_digest(corpus) == before
    # ... and the eval scores come from clean audio: the augmented run's final weights,
    # scored on the eval split by a config without any augmentation, give its score file exactly.
    assert b["final_weights"] == str(tmp_path / "robust" / "weights" / "last.pth")
    rescored = evaluate_weights(plain, b["final_weights"], split="eval", out_dir=tmp_path / "rescored",
                                device="cpu", progress=False)
    written = (tmp_path / "robust" / "eval_scores.txt").read_text()
    assert len(written.splitlines()) == 24
    assert (tmp_path / "rescored" / "eval_scores.txt").read_text() == written
    assert (tmp_path / "plain" / "eval_scores.txt").read_text() != written  # the weights do matter
    assert rescored["eer_percent"] == b["eval_eer_percent"]

    saved = json.loads((tmp_path / "robust" / "config.conf").read_text())["augment"]
    assert [e["name"] for e in saved] == ["codec", "noise", "rawboost"] and saved[2]["nBands"] == 5
    assert not json.loads((tmp_path / "plain" / "config.conf").read_text()).get("augment")


@pytest.mark.slow
def test_resume_refuses_a_changed_config(corpus, tmp_path):
    config = load_config(CONFIG_DIR / "mini.conf", _overrides(corpus, "num_epochs=1", "swa=false"))
    train(config, tmp_path / "run", progress=False)
    changed = load_config(CONFIG_DIR / "mini.conf", _overrides(corpus, "num_epochs=1", "seed=7"))
    with pytest.raises(ValueError, match="seed"):
        train(changed, tmp_path / "run", resume=True, progress=False)


@pytest.mark.slow
def test_torchrun_two_cpu_processes_with_gloo(corpus, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "aasist", "train", "--config", str(CONFIG_DIR / "mini.conf"),
           *_set_args(_overrides(corpus, "num_epochs=1")), "--out", str(out), "--device", "cpu"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads((out / "run_info.json").read_text())
    assert info["world_size"] == 2
    assert json.loads((out / "metrics.json").read_text())["eval_eer_percent"] >= 0


@pytest.mark.slow
def test_init_weights_is_where_training_starts(corpus, tmp_path):
    # scheduler none + learning rate 0: Adam moves nothing, so the final parameters are
    # exactly the ones init_weights loaded (BatchNorm buffers still follow the data)
    start = tmp_path / "start.pth"
    config = load_config(CONFIG_DIR / "mini.conf", _overrides(corpus, "num_epochs=1", "swa=false"))
    torch.manual_seed(99)
    torch.save(build_model(config["model_config"]).state_dict(), start)
    frozen = load_config(CONFIG_DIR / "mini.conf", _overrides(
        corpus, "num_epochs=1", "swa=false", f"init_weights={start}", "optim_config.base_lr=0.0",
        "optim_config.scheduler=none"))
    result = train(frozen, tmp_path / "run", progress=False)
    final = torch.load(result["final_weights"])
    names = [name for name, _ in build_model(config["model_config"]).named_parameters()]
    wanted = torch.load(start)
    assert all(torch.equal(final[name], wanted[name]) for name in names)
    # a fresh run starts elsewhere (seeded init), and so ends elsewhere
    fresh = train(load_config(CONFIG_DIR / "mini.conf", _overrides(
        corpus, "num_epochs=1", "swa=false", "optim_config.base_lr=0.0", "optim_config.scheduler=none")),
        tmp_path / "fresh", progress=False)
    assert not torch.equal(torch.load(fresh["final_weights"])[names[0]], wanted[names[0]])


def test_unusable_init_weights_fail_before_anything_is_written(corpus, tmp_path, capsys):
    bad = tmp_path / "other.pth"
    torch.save({"not": torch.zeros(1)}, bad)
    for weights in (tmp_path / "missing.pth", bad):
        proc = run_cli(capsys, "train", "--config", str(CONFIG_DIR / "mini.conf"),
                       *_set_args(_overrides(corpus, f"init_weights={weights}")), "--out", str(tmp_path / "run"))
        assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
        assert str(weights) in proc.stderr and not (tmp_path / "run").exists()


def test_robust_fine_tuning_of_the_official_model_starts_from_its_weights():
    from aasist.train import _initial_model
    config = load_config(CONFIG_DIR / "AASIST-L_robust_finetune.conf")
    assert config["augment"] and config["num_epochs"] < load_config(CONFIG_DIR / "AASIST-L_robust.conf")["num_epochs"]
    import aasist
    official = aasist.load_weights(build_model(config["model_config"]), "official:AASIST-L").state_dict()
    start = _initial_model(config, resume=False).state_dict()
    assert all(torch.equal(start[k], official[k]) for k in official)
