"""The synthetic mini corpus: LA layout, file formats, determinism, marker behaviour."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aasist.data.mini import corpus as mini_corpus
from aasist.errors import DataError
from aasist.data.mini import (DEFAULT_SIZES, EVAL_ATTACKS, MARKER_NAME, TRAIN_ATTACKS,
                              ensure_mini, make_mini, synthesize_utterance)

SIZES = {"train": (3, 6), "dev": (2, 6), "eval": (3, 13)}
SPLITS = ("train", "dev", "eval")
PREFIX = {"train": "LA_T_", "dev": "LA_D_", "eval": "LA_E_"}
PROTOCOLS = {
    "train": "ASVspoof2019.LA.cm.train.trn.txt",
    "dev": "ASVspoof2019.LA.cm.dev.trl.txt",
    "eval": "ASVspoof2019.LA.cm.eval.trl.txt",
}
ASV = {
    "dev": "ASVspoof2019.LA.asv.dev.gi.trl.scores.txt",
    "eval": "ASVspoof2019.LA.asv.eval.gi.trl.scores.txt",
}
CM_LINE = re.compile(r"^LA_\d{4} LA_[TDE]_[A-Z]?\d+ - (A\d\d|-) (spoof|bonafide)$")


def _protocol(root: Path, split: str) -> list[list[str]]:
    path = root / "ASVspoof2019_LA_cm_protocols" / PROTOCOLS[split]
    return [line.split() for line in path.read_text().splitlines()]


def _all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_mini(tmp_path_factory.mktemp("mini"), seed=0, sizes=SIZES, progress=False)


def test_layout(corpus):
    assert corpus.name == "LA"
    for split in SPLITS:
        assert (corpus / f"ASVspoof2019_LA_{split}" / "flac").is_dir()
        assert (corpus / "ASVspoof2019_LA_cm_protocols" / PROTOCOLS[split]).is_file()
    for split in ("dev", "eval"):
        assert (corpus / "ASVspoof2019_LA_asv_scores" / ASV[split]).is_file()
    assert (corpus / MARKER_NAME).is_file()
    assert not list(corpus.rglob("*.part"))


def test_protocols(corpus):
    all_ids = set()
    for split in SPLITS:
        rows = _protocol(corpus, split)
        text = (corpus / "ASVspoof2019_LA_cm_protocols" / PROTOCOLS[split]).read_text()
        assert text.endswith("\n")
        for line in text.splitlines():
            assert CM_LINE.match(line), line
        n_bona, n_spoof = SIZES[split]
        assert sum(r[4] == "bonafide" for r in rows) == n_bona
        assert sum(r[4] == "spoof" for r in rows) == n_spoof
        for speaker, utt, dash, attack, key in rows:
            assert utt.startswith(PREFIX[split])
            assert (attack == "-") == (key == "bonafide")
        ids = [r[1] for r in rows]
        assert len(set(ids)) == len(ids)
        all_ids.update(ids)
        # every protocol utterance exists, and nothing else is in the folder
        flac_dir = corpus / f"ASVspoof2019_LA_{split}" / "flac"
        assert sorted(p.stem for p in flac_dir.iterdir()) == sorted(ids)
    assert len(all_ids) == sum(a + b for a, b in SIZES.values())


def test_attack_ids_per_split(corpus):
    attacks = {s: {r[3] for r in _protocol(corpus, s) if r[4] == "spoof"} for s in SPLITS}
    assert attacks["train"] == set(TRAIN_ATTACKS) == {f"A{i:02d}" for i in range(1, 7)}
    assert attacks["dev"] == set(TRAIN_ATTACKS)
    assert attacks["eval"] == set(EVAL_ATTACKS) == {f"A{i:02d}" for i in range(7, 20)}


def test_speakers_are_split_specific(corpus):
    speakers = {s: {r[0] for r in _protocol(corpus, s)} for s in SPLITS}
    assert not speakers["train"] & speakers["dev"]
    assert not speakers["train"] & speakers["eval"]
    assert not speakers["dev"] & speakers["eval"]


def test_asv_scores(corpus):
    for split in ("dev", "eval"):
        lines = (corpus / "ASVspoof2019_LA_asv_scores" / ASV[split]).read_text().splitlines()
        scores: dict[tuple[str, str], list[float]] = {}
        for line in lines:
            source, key, value = line.split()
            assert key in ("target", "nontarget", "spoof")
            assert (source == "bonafide") == (key != "spoof")
            scores.setdefault((source, key), []).append(float(value))
        rows = _protocol(corpus, split)
        n_bona = sum(r[4] == "bonafide" for r in rows)
        assert len(scores[("bonafide", "target")]) == n_bona
        assert len(scores[("bonafide", "nontarget")]) == 3 * n_bona
        for attack in {r[3] for r in rows if r[4] == "spoof"}:
            assert len(scores[(attack, "spoof")]) == sum(r[3] == attack for r in rows)
        target = np.mean(scores[("bonafide", "target")])
        nontarget = np.mean(scores[("bonafide", "nontarget")])
        spoof = np.mean([v for (s, k), vs in scores.items() if k == "spoof" for v in vs])
        assert target > spoof > nontarget


def test_readers_and_tdcf_accept_the_corpus(corpus):
    """The package's own readers parse it, and a min t-DCF can be computed from it."""
    pytest.importorskip("aasist.metrics")
    from aasist.data.protocols import la_paths, read_cm_protocol
    from aasist.data.scores import read_asv_records as read_asv_scores
    from aasist.metrics import min_tdcf_2019

    paths = la_paths(corpus.parent, "eval")
    records = read_cm_protocol(paths.protocol)
    assert all((paths.flac_dir / f"{r.utt_id}.flac").is_file() for r in records)
    asv = read_asv_scores(paths.asv_scores)
    by_key = {k: np.array([a.score for a in asv if a.key == k])
              for k in ("target", "nontarget", "spoof")}
    rng = np.random.default_rng(0)
    bona_cm = rng.normal(2.0, 1.0, 50)
    spoof_cm = rng.normal(-2.0, 1.0, 50)
    result = min_tdcf_2019(bona_cm, spoof_cm, by_key["target"], by_key["nontarget"],
                           by_key["spoof"])
    value = result[0] if isinstance(result, tuple) else result
    assert np.isfinite(value) and 0.0 <= value <= 1.0


def test_flac_properties(corpus):
    for split in SPLITS:
        for path in sorted((corpus / f"ASVspoof2019_LA_{split}" / "flac").iterdir()):
            info = sf.info(str(path))
            assert info.format == "FLAC"
            assert info.subtype == "PCM_16"
            assert info.samplerate == 16000
            assert info.channels == 1
            assert 1.0 <= info.duration <= 3.0


def test_audio_is_sane(corpus):
    """Finite, not clipped, not silent, no DC; the level range is the same for both classes."""
    levels = {"bonafide": [], "spoof": []}
    for split in SPLITS:
        for speaker, utt, _, attack, key in _protocol(corpus, split):
            x, _ = sf.read(str(corpus / f"ASVspoof2019_LA_{split}" / "flac" / f"{utt}.flac"),
                           dtype="float64")
            assert np.all(np.isfinite(x))
            assert np.max(np.abs(x)) < 0.99, utt
            assert abs(np.mean(x)) < 1e-3, utt
            rms_db = 20 * np.log10(np.sqrt(np.mean(x ** 2)))
            assert -36.0 < rms_db < -25.0, (utt, rms_db)
            levels[key].append(rms_db)
    assert levels["bonafide"] and levels["spoof"]


def test_same_seed_identical_bytes(corpus, tmp_path):
    again = make_mini(tmp_path, seed=0, sizes=SIZES, progress=False)
    assert _all_files(again) == _all_files(corpus)


def test_different_seed_differs(corpus, tmp_path):
    other = make_mini(tmp_path, seed=1, sizes=SIZES, progress=False)
    for split in SPLITS:
        assert _protocol(other, split) != _protocol(corpus, split)
    a = sorted((corpus / "ASVspoof2019_LA_train" / "flac").iterdir())[0].read_bytes()
    b = sorted((other / "ASVspoof2019_LA_train" / "flac").iterdir())[0].read_bytes()
    assert a != b


def test_utterances_independent_of_order(corpus):
    rows = _protocol(corpus, "dev")
    picks = [4, 1, 6]
    first = {i: synthesize_utterance(0, "dev", i, int(rows[i][0][3:]),
                                     None if rows[i][3] == "-" else rows[i][3]) for i in picks}
    for i in reversed(picks):
        attack = None if rows[i][3] == "-" else rows[i][3]
        again = synthesize_utterance(0, "dev", i, int(rows[i][0][3:]), attack)
        assert np.array_equal(again, first[i])
        stored, _ = sf.read(str(corpus / "ASVspoof2019_LA_dev" / "flac" / f"{rows[i][1]}.flac"),
                            dtype="int16")
        assert np.array_equal(stored, again)


def _rms_db(x: np.ndarray) -> float:
    x = x.astype(np.float64) / 32768.0
    return float(20 * np.log10(np.sqrt(np.mean(x ** 2))))


def test_every_attack_renders(tmp_path):
    for attack in (None,) + TRAIN_ATTACKS + EVAL_ATTACKS:
        x = synthesize_utterance(3, "eval", 7, 5, attack)
        assert x.dtype == np.int16 and 16000 <= len(x) <= 48000
        assert 0 < np.max(np.abs(x.astype(np.int32))) < 32767


@pytest.mark.parametrize("index", [0, 7])
def test_attacks_change_the_artefacts_not_length_or_level(index):
    """A spoof of utterance i has exactly the length and loudness its bona fide version would
    have: neither is a cue (both are drawn from a stream the attacks never touch)."""
    bona = synthesize_utterance(3, "eval", index, 5, None)
    for attack in TRAIN_ATTACKS + EVAL_ATTACKS:
        x = synthesize_utterance(3, "eval", index, 5, attack)
        assert len(x) == len(bona), attack
        assert abs(_rms_db(x) - _rms_db(bona)) < 0.05, attack
        assert not np.array_equal(x, bona), attack


def test_speech_starts_at_once():
    """Evaluation scores the first nb_samp samples: the first 0.25 s holds speech, not a
    silent lead-in (which would carry no artefact)."""
    for index in range(12):
        x = synthesize_utterance(0, "dev", index, 70, None)
        assert _rms_db(x[:4000]) > _rms_db(x) - 12.0, index


def test_bona_fide_has_high_band_content():
    """The bona fide voice is never band-limited: band-limiting (A04) is an artefact."""
    def high_band_share(x):
        power = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
        freqs = np.fft.rfftfreq(len(x), 1 / 16000)
        return power[freqs > 5500].sum() / power.sum()

    for index in range(6):
        bona = high_band_share(synthesize_utterance(0, "train", index, 80, None))
        spoof = high_band_share(synthesize_utterance(0, "train", index, 80, "A04"))
        assert bona > 0.005 and spoof < 0.1 * bona, index


def test_ensure_mini_does_nothing_when_complete(corpus):
    stamps = {p: p.stat().st_mtime_ns for p in corpus.rglob("*")}
    assert ensure_mini(corpus.parent, seed=0, sizes=SIZES, progress=False) == corpus
    assert {p: p.stat().st_mtime_ns for p in corpus.rglob("*")} == stamps


def test_ensure_mini_regenerates_without_marker(corpus, tmp_path):
    dest = tmp_path / "copy"
    shutil.copytree(corpus.parent, dest)
    root = dest / "LA"
    (root / MARKER_NAME).unlink()
    victim = sorted((root / "ASVspoof2019_LA_eval" / "flac").iterdir())[0]
    victim.unlink()
    assert ensure_mini(dest, seed=0, sizes=SIZES, progress=False) == root
    assert (root / MARKER_NAME).is_file()
    assert _all_files(root) == _all_files(corpus)


@pytest.mark.slow
def test_ensure_mini_regenerates_on_other_seed_or_sizes(corpus, tmp_path):
    dest = tmp_path / "copy"
    shutil.copytree(corpus.parent, dest)
    smaller = {"train": (2, 6), "dev": (1, 6), "eval": (1, 13)}
    root = ensure_mini(dest, seed=0, sizes=smaller, progress=False)
    n_files = len(list((root / "ASVspoof2019_LA_train" / "flac").iterdir()))
    assert n_files == 8  # stale files of the larger corpus are gone
    root = ensure_mini(dest, seed=0, sizes=SIZES, progress=False)
    assert _all_files(root) == _all_files(corpus)


def test_interrupted_run_is_redone(corpus, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = mini_corpus.synthesize_utterance

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 12:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(mini_corpus, "synthesize_utterance", flaky)
    with pytest.raises(KeyboardInterrupt):
        make_mini(tmp_path, seed=0, sizes=SIZES, progress=False)
    root = tmp_path / "LA"
    assert not (root / MARKER_NAME).exists()
    assert not [p for p in root.rglob("*") if p.name.endswith((".tmp", ".part"))]
    monkeypatch.setattr(mini_corpus, "synthesize_utterance", real)
    assert ensure_mini(tmp_path, seed=0, sizes=SIZES, progress=False) == root
    assert _all_files(root) == _all_files(corpus)


def test_refuses_to_overwrite_a_foreign_corpus(tmp_path):
    protocols = tmp_path / "LA" / "ASVspoof2019_LA_cm_protocols"
    protocols.mkdir(parents=True)
    (protocols / PROTOCOLS["train"]).write_text("LA_0079 LA_T_1000137 - - bonafide\n")
    with pytest.raises(DataError, match="did not generate"):
        make_mini(tmp_path, sizes=SIZES, progress=False)
    with pytest.raises(DataError, match="did not generate"):
        ensure_mini(tmp_path, sizes=SIZES, progress=False)
    assert (protocols / PROTOCOLS["train"]).read_text().startswith("LA_0079")


@pytest.mark.parametrize("sizes", [
    {"train": (1, 1), "dev": (1, 1)},
    {"train": (1, 1), "dev": (1, 1), "eval": (1, 1), "test": (1, 1)},
    {"train": (0, 5), "dev": (1, 1), "eval": (1, 1)},
    {"train": 5, "dev": (1, 1), "eval": (1, 1)},
])
def test_bad_sizes(tmp_path, sizes):
    with pytest.raises(ValueError):
        make_mini(tmp_path, sizes=sizes, progress=False)


def test_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        synthesize_utterance(0, "test", 0, 1, None)
    with pytest.raises(ValueError, match="A01"):
        synthesize_utterance(0, "train", 0, 80, "A99")


def test_default_sizes():
    total = {s: sum(DEFAULT_SIZES[s]) for s in SPLITS}
    assert total == {"train": 1200, "dev": 200, "eval": 700}
    for split in SPLITS:
        n_bona, n_spoof = DEFAULT_SIZES[split]
        assert 0.25 <= n_bona / (n_bona + n_spoof) <= 0.35
