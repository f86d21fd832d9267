"""Evaluation: join by utterance id, the evaluate and metrics commands, their errors."""
from __future__ import annotations

import json
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from aasist.config import load_config
from aasist.data.corpora import get_corpus
from conftest import make_mini_corpus
from aasist.data.protocols import CmRecord
from aasist.errors import ConfigError, DataError
from aasist.evaluate import eval_loader, join_scores, load_split
from aasist.pretrained import build_model
from aasist.predict import Detector
from conftest import CONFIG_DIR, LA_EVAL_LIKE, ROOT, official_weights, run_cli, tiny_corpus

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return tiny_corpus(tmp_path_factory.mktemp("mini"), seed=2)


def test_join_is_by_utterance_id_not_position():
    records = [CmRecord("S", f"U{i}", "-" if i % 2 else "A01", "bonafide" if i % 2 else "spoof")
               for i in range(6)]
    scores = {f"U{i}": float(i) for i in range(6)}
    shuffled = dict(random.Random(0).sample(list(scores.items()), 6))
    np.testing.assert_array_equal(join_scores(records, shuffled), np.arange(6.0))
    with pytest.raises(DataError, match="1 protocol utterances have no score .*U5"):
        join_scores(records, {k: v for k, v in scores.items() if k != "U5"})
    with pytest.raises(DataError, match="not in the protocol .*X"):
        join_scores(records, {**scores, "X": 1.0})


def test_eval_nb_samp_is_the_scoring_window_of_evaluation_and_predict(corpus):
    base = [f"database_path={corpus}", "num_workers=0", "use_cache=false"]
    longer = load_config(CONFIG_DIR / "mini.conf", base)  # trains on 4,000, scores 16,000
    official = load_config(CONFIG_DIR / "mini.conf", base + ["model_config.eval_nb_samp=0"])
    assert (longer["model_config"]["nb_samp"], longer["model_config"]["eval_nb_samp"]) == (4000, 16000)
    records, source = load_split(official, "dev")
    cpu = torch.device("cpu")
    x_official, ids_official = next(iter(eval_loader(records, source, official, cpu)))
    x_longer, ids_longer = next(iter(eval_loader(records, source, longer, cpu)))
    assert x_official.shape[1] == 4000 and x_longer.shape[1] == 16000
    # same clips, same start: the official window is the first part of the longer one
    assert list(ids_official) == list(ids_longer)
    torch.testing.assert_close(x_longer[:, :4000], x_official, rtol=0, atol=0)
    assert Detector.from_model(build_model(longer["model_config"])).nb_samp == 16000
    assert Detector.from_model(build_model(official["model_config"])).nb_samp == 4000
    with pytest.raises(ConfigError, match="eval_nb_samp must be 0"):
        load_config(CONFIG_DIR / "mini.conf", ["model_config.eval_nb_samp=-1"])
    with pytest.raises(ConfigError, match="eval_nb_samp=100 is shorter"):
        build_model(load_config(CONFIG_DIR / "mini.conf", ["model_config.eval_nb_samp=100"])["model_config"])
    with pytest.raises(ConfigError, match="model_config.nb_samp=0 is shorter"):  # 0 means "unset" only for eval_nb_samp
        build_model(load_config(CONFIG_DIR / "mini.conf", ["model_config.nb_samp=0"])["model_config"])


@pytest.mark.slow
def test_evaluate_cli_with_official_weights(corpus, tmp_path, capsys):
    out = tmp_path / "ev"
    proc = run_cli(capsys, "evaluate", "--config", str(CONFIG_DIR / "AASIST-L.conf"), "--set", f"database_path={corpus}",
                "--set", "model_config.nb_samp=16000", "--set", "num_workers=0",
                "--weights", str(official_weights("AASIST-L")), "--split", "dev", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "CM EER" in proc.stdout
    report = json.loads((out / "metrics.json").read_text())
    assert {"eer_percent", "min_tdcf", "per_attack_eer_percent"} <= set(report)
    assert report["n_bonafide"] == 6 and report["n_spoof"] == 12
    lines = (out / "dev_scores.txt").read_text().splitlines()
    assert len(lines) == 18 and all(len(line.split()) == 4 for line in lines)
    for name in ("det_curve.png", "score_histograms.png", "per_attack_eer.png"):
        assert (out / name).read_bytes().startswith(PNG_MAGIC)
    # the metrics command on the files evaluate wrote gives the same numbers
    proc = run_cli(capsys, "metrics", "--scores", str(out / "dev_scores.txt"), "--asv-scores",
                str(corpus / "ASVspoof2019_LA_asv_scores" / "ASVspoof2019.LA.asv.dev.gi.trl.scores.txt"),
                "--json", str(tmp_path / "m.json"))
    assert proc.returncode == 0, proc.stderr
    again = json.loads((tmp_path / "m.json").read_text())
    assert again["eer_percent"] == pytest.approx(report["eer_percent"])
    assert again["min_tdcf"] == pytest.approx(report["min_tdcf"])


def test_metrics_cli_reference_json(tmp_path, capsys):
    ref = LA_EVAL_LIKE
    proc = run_cli(capsys, "metrics", "--scores", str(ref / "cm_scores.txt"), "--asv-scores", str(ref / "asv_scores.txt"),
                "--json", str(tmp_path / "out.json"))
    assert proc.returncode == 0
    got = json.loads((tmp_path / "out.json").read_text())
    expected = json.loads((ref / "expected.json").read_text())
    assert abs(got["eer_percent"] - expected["eer_percent"]) < 1e-6
    assert abs(got["min_tdcf"] - expected["min_tdcf"]) < 1e-6
    for attack, value in expected["per_attack_eer_percent"].items():
        assert abs(got["per_attack_eer_percent"][attack] - value) < 1e-6


@pytest.mark.parametrize("content,message", [
    ("", "empty"),
    ("U1 - bonafide 0.5\nU2 A01 spoof abc\n", ":2:"),
    ("U1 - bonafide 0.5\nU1 A01 spoof 0.1\n", ":2:"),
    ("U1 - bonafide\n", ":1:"),
])
def test_metrics_cli_malformed_score_file_is_one_line(tmp_path, capsys, content, message):
    scores = tmp_path / "cm.txt"
    scores.write_text(content)
    asv = tmp_path / "asv.txt"
    asv.write_text("bonafide target 2.0\nbonafide nontarget -2.0\nA01 spoof 0.1\n")
    proc = run_cli(capsys, "metrics", "--scores", scores, "--asv-scores", asv)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr and "cm.txt" in proc.stderr


@pytest.mark.slow
def test_metrics_error_in_a_real_process_is_one_line_without_traceback(tmp_path):
    # The process boundary: exit status and stderr as a shell sees them.
    scores = tmp_path / "cm.txt"
    scores.write_text("U1 - bonafide 0.5\nU2 A01 spoof abc\n")
    proc = subprocess.run([sys.executable, "-m", "aasist", "metrics", "--scores", str(scores),
                           "--asv-scores", str(tmp_path / "missing.txt")], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == f"error: {scores}:2: score 'abc' is not a number; the score column must hold a float\n"


def test_evaluate_missing_weights_is_one_line(corpus, tmp_path, capsys):
    proc = run_cli(capsys, "evaluate", "--config", str(CONFIG_DIR / "AASIST-L.conf"), "--set", f"database_path={corpus}",
                "--weights", str(tmp_path / "none.pth"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "none.pth: weights not found" in proc.stderr and "official:AASIST-L" in proc.stderr


# --------------------------------------------------------------------------- other corpora

@pytest.fixture(scope="module")
def other_corpora(tmp_path_factory):
    dest = tmp_path_factory.mktemp("corpora")
    for name, sizes in (("la2021", {"eval": (6, 9)}), ("df2021", {"eval": (3, 6)}),
                        ("itw", {"eval": (3, 4)}), ("asvspoof5", {"eval": (3, 6)})):
        make_mini_corpus(name, dest, sizes=sizes)
    return dest


@pytest.mark.parametrize("name,score_file,header,keys", [
    ("la2021", "eval_scores.txt", None, "ASVspoof2021_LA/keys"),
    ("df2021", "eval_scores.txt", None, "ASVspoof2021_DF/keys/DF/CM/trial_metadata.txt"),
    ("itw", "eval_scores.txt", None, "release_in_the_wild/meta.csv"),
    ("asvspoof5", "eval_scores.tsv", "filename\tcm-score", "ASVspoof5/ASVspoof5.eval.track_1.tsv"),
])
@pytest.mark.slow
def test_evaluate_any_corpus_with_the_bundled_weights(other_corpora, tmp_path, capsys, name,
                                                      score_file, header, keys):
    out = tmp_path / "ev"
    proc = run_cli(capsys, "evaluate", "--corpus", name, "--root", other_corpora,
                   "--set", "model_config.nb_samp=8000", "--set", "num_workers=0", "--out", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((out / "metrics.json").read_text())
    assert report["corpus"] == name and report["weights"].endswith("AASIST-L.pth")
    lines = (out / score_file).read_text().splitlines()
    records = get_corpus(name).read(other_corpora, "eval")
    assert len(lines) == len(records) + (header is not None)  # every trial, all subsets
    if header:
        assert lines[0] == header
    assert (out / "det_curve.png").read_bytes().startswith(PNG_MAGIC)
    # the metrics command on the file evaluate wrote gives the same report
    proc = run_cli(capsys, "metrics", "--corpus", name, "--scores", out / score_file,
                   "--keys", other_corpora / keys, "--json", tmp_path / "m.json")
    assert proc.returncode == 0, proc.stderr
    again = json.loads((tmp_path / "m.json").read_text())
    assert again["eer_percent"] == pytest.approx(report["eer_percent"])
    assert again.get("min_dcf") == pytest.approx(report.get("min_dcf"))
    assert again["min_tdcf"] == pytest.approx(report["min_tdcf"])
    assert (name == "la2021") == (report["min_tdcf"] is not None)  # the organisers' ASV scores


def test_evaluate_corpus_errors_are_one_line(other_corpora, tmp_path, capsys):
    proc = run_cli(capsys, "evaluate", "--corpus", "itw", "--root", other_corpora, "--split", "dev")
    assert proc.returncode == 1 and proc.stderr == "error: In-the-Wild has no 'dev' split; valid: eval\n"
    proc = run_cli(capsys, "evaluate", "--corpus", "asvspoof5", "--root", tmp_path)
    assert proc.returncode == 1 and "ASVspoof 5 eval protocol not found" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1
