"""The corpus registry (aasist.data.corpora): layouts, readers, datasets and training on
small generated corpora in each layout (each corpus's make_mini)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from aasist.config import load_config
from aasist.data.corpora import CORPORA, get_corpus
from aasist.data.corpora.asvspoof2021 import asv_files_2021
from aasist.data.datasets import EvalDataset, TrainDataset
from conftest import MINI_SIZES, make_mini_corpus
from aasist.download import verify_corpus
from aasist.errors import ConfigError, DataError
from aasist.train import train
from conftest import CONFIG_DIR, run_cli

OTHERS = ("la2021", "df2021", "itw", "asvspoof5")


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """Every non-2019 corpus, generated once, side by side in one download destination."""
    dest = tmp_path_factory.mktemp("corpora")
    return dest, {name: make_mini_corpus(name, dest) for name in OTHERS}


def test_every_entry_has_the_same_shape():
    assert list(CORPORA) == ["la2019", "la2021", "df2021", "itw", "asvspoof5"]
    for corpus in CORPORA.values():
        assert corpus.archives and "eval" in corpus.splits
        assert corpus.score_format in ("cm4", "trial", "asvspoof5")
        for archive in corpus.archives:
            assert archive.url.startswith("https://") and archive.name in archive.url
            assert archive.md5 is None or len(archive.md5) == 32
    trainable = [c.name for c in CORPORA.values() if "train" in c.splits]
    assert trainable == ["la2019", "asvspoof5"]
    # checksums published by the organisers are pinned; nothing is invented for the rest
    assert all(a.md5 for a in CORPORA["asvspoof5"].archives)
    assert [a.name for a in CORPORA["df2021"].archives if a.md5] == ["DF-keys-full.tar.gz"]
    assert not any(a.md5 for a in CORPORA["itw"].archives + CORPORA["la2019"].archives)


def test_unknown_corpus_and_split_list_the_valid_ones():
    with pytest.raises(ConfigError, match="valid: la2019, la2021, df2021, itw, asvspoof5"):
        get_corpus("la2020")
    with pytest.raises(ConfigError, match="ASVspoof 2021 DF has no 'train' split; valid: eval"):
        get_corpus("df2021").split_files("x", "train")


@pytest.mark.parametrize("name", OTHERS)
def test_generated_corpus_reads_and_verifies_in_its_layout(corpora, name):
    dest, roots = corpora
    corpus = get_corpus(name)
    sizes = MINI_SIZES[name]
    # the corpus folder and the download destination holding it both work as --root
    assert corpus.resolve_root(dest) == roots[name] == corpus.resolve_root(roots[name])
    counts = verify_corpus(corpus, dest / corpus.root)
    assert counts == {split: b + s for split, (b, s) in sizes.items()}
    for split, (n_bona, n_spoof) in sizes.items():
        records = corpus.read(dest, split)
        assert sum(r.label for r in records) == n_bona and len(records) == n_bona + n_spoof
        files = corpus.split_files(dest, split)
        for record in records:
            info = sf.info(str(files.audio_dir / f"{record.utt_id}{files.audio_ext}"))
            assert info.samplerate == 16000 and info.subtype == "PCM_16"


def test_2021_keys_carry_every_subset_and_the_asv_trials(corpora):
    dest, roots = corpora
    la = get_corpus("la2021").read(dest, "eval")
    assert {r.subset for r in la} == {"eval", "progress", "hidden"}
    assert {r.subset for r in la if r.key == "bonafide"} == {"eval", "progress", "hidden"}
    keys = get_corpus("la2021").keys_file(roots["la2021"])  # found in the keys folder
    metadata, scores = asv_files_2021(keys)
    assert metadata.parent.name == "ASV" and scores.parent.name == "ASVTorch_Kaldi"
    assert asv_files_2021(get_corpus("df2021").keys_file(roots["df2021"])) is None
    with pytest.raises(DataError, match="keys not found"):
        get_corpus("la2021").keys_file(dest / "nowhere")


def test_missing_audio_is_named(corpora, tmp_path):
    _, roots = corpora
    root = make_mini_corpus("itw", tmp_path)
    (root / "3.wav").unlink()
    with pytest.raises(DataError, match=r"1 utterance\(s\).*\./3\.wav"):
        verify_corpus("itw", root)
    with pytest.raises(DataError, match="protocol not found.*--corpus asvspoof5"):
        get_corpus("asvspoof5").split_files(tmp_path, "train")


@pytest.mark.parametrize("name,split", [("itw", "eval"), ("asvspoof5", "train")])
def test_datasets_serve_every_layout(corpora, name, split):
    dest, _ = corpora
    corpus = get_corpus(name)
    files = corpus.split_files(dest, split)
    records = corpus.read(dest, split)
    ds = EvalDataset(records, files.audio_dir, 4000, audio_ext=files.audio_ext)
    x, utt = ds[0]
    assert x.shape == (4000,) and x.dtype == torch.float32 and utt == records[0].utt_id
    labels = TrainDataset(records, files.audio_dir, 4000, audio_ext=files.audio_ext).labels
    assert labels == [r.label for r in records] and 0 < sum(labels) < len(labels)


def test_config_names_the_corpus(tmp_path):
    assert load_config(CONFIG_DIR / "AASIST.conf")["corpus"] == "la2019"
    recipe = load_config(CONFIG_DIR / "AASIST_ASVspoof5.conf")
    # the organisers' baseline: AASIST.conf's model, 64,600 samples, batch 24, 100 epochs,
    # Adam 1e-4 cosine to 5e-6, weight decay 1e-4, class weights [0.1, 0.9], 2,000 dev files
    assert recipe["corpus"] == "asvspoof5" and recipe["max_dev_items"] == 2000
    assert recipe["model_config"] == load_config(CONFIG_DIR / "AASIST.conf")["model_config"]
    assert (recipe["batch_size"], recipe["num_epochs"], recipe["class_weights"]) == (24, 100, [0.1, 0.9])
    optim = recipe["optim_config"]
    assert (optim["base_lr"], optim["lr_min"], optim["weight_decay"]) == (1e-4, 5e-6, 1e-4)
    with pytest.raises(ConfigError, match="'corpus' must be one of la2019, .*asvspoof5"):
        load_config(CONFIG_DIR / "AASIST.conf", ["corpus=wild"])
    with pytest.raises(ConfigError, match="max_dev_items"):
        load_config(CONFIG_DIR / "AASIST.conf", ["max_dev_items=-1"])


@pytest.mark.slow
def test_train_on_asvspoof5_through_the_same_code(corpora, tmp_path):
    dest, roots = corpora
    config = load_config(CONFIG_DIR / "mini.conf", [
        "corpus=asvspoof5", f"database_path={roots['asvspoof5']}", "mini_corpus=false",
        "num_epochs=1", "batch_size=4", "model_config.nb_samp=4000", "num_workers=0",
        "max_dev_items=5", 'eval_splits=["dev", "eval"]'])
    out = tmp_path / "run"
    result = train(config, out, progress=False)
    metrics = json.loads((out / "metrics.json").read_text())
    # dev: the first 5 dev files only; eval: every eval trial, in the ASVspoof 5 format
    assert metrics["dev_n_bonafide"] + metrics["dev_n_spoof"] == 5
    assert metrics["eval_n_bonafide"] + metrics["eval_n_spoof"] == 15
    assert {"eval_min_dcf", "eval_act_dcf", "eval_cllr_bits", "eval_eer_percent"} <= set(metrics)
    assert metrics["eval_min_tdcf"] is None and result["eval_min_dcf"] == metrics["eval_min_dcf"]
    lines = (out / "eval_scores.txt").read_text().splitlines()
    assert lines[0] == "filename\tcm-score" and len(lines) == 16
    assert np.isfinite([float(line.split("\t")[1]) for line in lines[1:]]).all()


def test_a_corpus_without_a_train_split_is_refused_for_training(corpora, tmp_path):
    dest, _ = corpora
    config = load_config(CONFIG_DIR / "mini.conf", ["corpus=itw", f"database_path={dest}",
                                                    "mini_corpus=false"])
    with pytest.raises(ConfigError, match="In-the-Wild has no 'train' split"):
        train(config, tmp_path / "run", progress=False)


def test_make_mini_command_writes_any_layout(tmp_path, capsys):
    proc = run_cli(capsys, "make-mini", "--corpus", "itw", "--dest", tmp_path)
    assert proc.returncode == 0 and "release_in_the_wild" in proc.stdout
    assert verify_corpus("itw", tmp_path / "release_in_the_wild") == {"eval": 12}
