"""`aasist export`: ONNX files that onnxruntime alone scores like the torch models.

The parity checks feed numpy to onnxruntime and nothing else (:func:`ort_logits`); the
references are the official logits (tests/data/aasist_parity.npz, parity_lengths.npz) and our
torch models, computed apart. docs/export.md's example runs in a subprocess with torch made
unimportable.
"""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

import aasist
from aasist import cli, pretrained
from aasist.nn.layers import kept_count

from conftest import PARITY, ROOT, run_cli

PARITY_LENGTHS = ROOT / "tests" / "data" / "parity_lengths.npz"
DOC = ROOT / "docs" / "export.md"
ATOL = 1e-4

needs_export = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("onnx", "onnxscript", "onnxruntime")),
    reason='needs the export extra: pip install "aasist[export]"')


def ort_logits(path, x: np.ndarray) -> np.ndarray:
    """The file's logits for (B, L) float32 samples: onnxruntime and numpy only."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"waveform": np.ascontiguousarray(x, dtype=np.float32)})[0]


def torch_logits(name: str, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return aasist.get_model(name)(torch.from_numpy(x)).numpy()


def tiled(reference: np.ndarray, length: int) -> np.ndarray:
    """Each reference clip tiled (or cut) to ``length`` samples, as the fixtures were made
    (scripts/make_parity_reference.py)."""
    return np.stack([np.resize(row, length) for row in reference]).astype(np.float32)


# --------------------------------------------------------------------------- errors (fast)


def test_without_the_extra_export_is_one_line(monkeypatch, capsys, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    code, out, err = run_cli(capsys, "export", "--model", "AASIST-L", "--out", tmp_path / "m.onnx")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and 'pip install "aasist[export]"' in err, err
    assert not (tmp_path / "m.onnx").exists()


@needs_export
def test_unknown_model_is_one_line(capsys, tmp_path):
    code, _, err = run_cli(capsys, "export", "--model", "AASIST-XL", "--format", "onnx",
                           "--out", tmp_path / "m.onnx")
    assert code == 1 and err.count("\n") == 1, err
    assert "unknown model 'AASIST-XL'" in err and "RawGAT-ST-mul" in err


@needs_export
@pytest.mark.parametrize("where", ["a folder", "below a file"])
def test_bad_out_is_one_line_before_exporting(capsys, tmp_path, where):
    (tmp_path / "file.txt").write_text("not a folder")
    out = tmp_path if where == "a folder" else tmp_path / "file.txt" / "m.onnx"
    code, _, err = run_cli(capsys, "export", "--model", "AASIST-L", "--out", out)
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith("error: ") and str(out) in err
    assert ("is a folder" if where == "a folder" else "is a file, not a folder") in err


def test_format_other_than_onnx_is_refused(capsys, tmp_path):
    with pytest.raises(SystemExit):
        run_cli(capsys, "export", "--model", "AASIST-L", "--format", "tflite", "--out",
                tmp_path / "m.tflite")
    assert "invalid choice: 'tflite'" in capsys.readouterr().err


@pytest.mark.parametrize("ratio", [0.4, 0.5, 0.64, 0.7, 0.81])
def test_kept_count_is_pythons_rule(ratio):
    """Eager (plain ints): the official max(int(N k), 1), float rounding included
    (int(90 * 0.7) is 62, not 63)."""
    for n in range(1, 400):
        assert kept_count(n, ratio) == max(int(n * ratio), 1)
    assert kept_count(90, 0.7) == 62 and kept_count(10, 0.7) == 7 and kept_count(1, 0.4) == 1


# --------------------------------------------------------------------------- exported files


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """name -> an exported file; AASIST-L through the command line (with its check),
    the others through the API."""
    folder = tmp_path_factory.mktemp("onnx")
    files = {}

    def get(name: str):
        if name not in files:
            path = folder / f"{name}.onnx"
            if name == "AASIST-L":
                code = cli.main(["export", "--model", name, "--format", "onnx",
                                 "--out", str(path)])
                assert code == 0
            else:
                from aasist.export import export_onnx

                export_onnx(path, model=name, check=False)
            files[name] = path
        return files[name]

    return get


@needs_export
@pytest.mark.slow
@pytest.mark.parametrize("name", ["AASIST-L", "AASIST"])
def test_aasist_matches_the_official_logits_at_any_length(exported, name):
    """Batch 3 at 64,600 samples against the official logits; at 48,000 against our torch
    model (and the official model's logits there); at the other fixture lengths (the
    shortest input, 1 s, 6.25 s) against the official logits."""
    path = exported(name)
    reference = np.load(PARITY)
    official = np.load(PARITY_LENGTHS)
    got = ort_logits(path, reference["input"])
    np.testing.assert_allclose(got, reference[f"{name}/logits"], atol=ATOL, rtol=0)
    x48 = tiled(reference["input"], 48_000)
    got = ort_logits(path, x48)
    np.testing.assert_allclose(got, torch_logits(name, x48), atol=ATOL, rtol=0)
    for length in official["lengths"]:
        got = ort_logits(path, tiled(reference["input"], int(length)))
        np.testing.assert_allclose(got, official[f"{name}/{length}/logits"], atol=ATOL, rtol=0)


#: Lengths whose node counts sit on edges: 10 nodes before a 0.7 pooling (10 * 0.7 is 7 in
#: Python, 6 in float32: AASIST-L pools 21 temporal nodes by 0.5 first, AASIST pools 10 by
#: 0.7), one temporal node (4,501 samples) and two (4,502); batches of 1 and 2.
EDGES = {"AASIST-L": [(128 + 21 * 2187, 2), (128 + 60 * 2187 + 5, 1), (4_501, 2), (4_502, 1)],
         "AASIST": [(128 + 10 * 2187, 2), (4_501, 1)]}


@needs_export
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EDGES))
def test_aasist_keeps_pythons_node_counts(exported, name):
    path = exported(name)
    reference = np.load(PARITY)["input"]
    for length, batch in EDGES[name]:
        x = tiled(reference, length)[:batch]
        np.testing.assert_allclose(ort_logits(path, x), torch_logits(name, x), atol=ATOL, rtol=0)


@needs_export
@pytest.mark.slow
def test_rawgat_st_matches_the_torch_model(exported):
    path = exported("RawGAT-ST-mul")
    x = np.load(PARITY)["input"][:2]
    np.testing.assert_allclose(ort_logits(path, x), torch_logits("RawGAT-ST-mul", x),
                               atol=ATOL, rtol=0)
    import onnxruntime

    shape = onnxruntime.InferenceSession(str(path)).get_inputs()[0].shape
    assert shape == ["batch", 64600]  # RawGAT-ST: its window only


@needs_export
@pytest.mark.slow
def test_the_file_says_what_it_is(exported):
    import onnxruntime

    from aasist.predict import prior_offset

    path = exported("AASIST-L")
    session = onnxruntime.InferenceSession(str(path))
    assert [(i.name, i.shape, i.type) for i in session.get_inputs()] == [
        ("waveform", ["batch", "samples"], "tensor(float)")]
    assert [(o.name, o.shape) for o in session.get_outputs()] == [("logits", ["batch", 2])]
    meta = session.get_modelmeta().custom_metadata_map
    bundle = pretrained.bundle("AASIST-L")
    config = aasist.load_config(bundle.config)
    assert meta["model"] == "AASIST-L" and meta["architecture"] == "AASIST"
    assert meta["sample_rate"] == "16000" and meta["window"] == "64600" and meta["hop"] == "32300"
    assert meta["min_samples"] == "2315" and meta["dynamic_length"] == "true"
    assert meta["weights_sha256"] == bundle.sha256
    assert meta["score_polarity"] == "column 1 = bona fide; higher = more bona fide"
    assert meta["aasist_version"] == aasist.__version__
    assert float(meta["llr_offset"]) == prior_offset(config) != 0
    assert meta["licence"] == bundle.licence and meta["source"] == bundle.source_url
    from aasist.export import read_metadata

    assert read_metadata(path) == meta


def _doc_example() -> str:
    text = DOC.read_text()
    match = re.search(r"<!-- example: score_onnx\.py[^>]*-->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/export.md lost its example block"
    return match.group(1)


def test_the_doc_example_needs_no_torch():
    code = _doc_example()
    imported = set(re.findall(r"^(?:import|from) (\w+)", code, re.M))
    assert imported == {"json", "sys", "numpy", "onnxruntime", "soundfile"}, imported


@needs_export
@pytest.mark.slow
def test_the_doc_example_scores_like_predict(exported, tmp_path):
    """The example, run with torch unimportable, gives predict's score (no VAD) for a
    12 s file (windows, least bona fide one) and a 1 s file (repeat-padded)."""
    from aasist.predict import Detector

    path = exported("AASIST-L")
    program = tmp_path / "score_onnx.py"
    program.write_text("import sys\nsys.modules['torch'] = None  # no torch from here on\n"
                       + _doc_example())
    clips = np.load(PARITY)["input"]
    files = {"long.wav": np.concatenate(list(clips)), "short.wav": clips[1][:16_000]}
    detector = Detector(model="AASIST-L", vad=False)
    for name, audio in files.items():
        sf.write(tmp_path / name, audio, 16000, subtype="FLOAT")
        proc = subprocess.run([sys.executable, str(program), str(path), str(tmp_path / name)],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        got = json.loads(proc.stdout)
        want = detector.score(str(tmp_path / name))
        assert got["windows"] == want["windows"] == (5 if name == "long.wav" else 1)
        assert got["score"] == pytest.approx(want["score"], abs=ATOL)
        assert got["p_bonafide"] == pytest.approx(want["p_bonafide"], abs=ATOL)
        assert got["llr"] == pytest.approx(want["llr"], abs=ATOL)
        assert got["label"] == ("bonafide" if want["p_bonafide"] >= 0.5 else "spoof")


@needs_export
@pytest.mark.slow
def test_the_speed_script_runs(exported, tmp_path):
    """experiments/export_speed.py at a tiny scale (its numbers mean nothing here), in a
    subprocess: it applies the command line's process settings."""
    path = exported("AASIST-L")
    out = tmp_path / "speed.json"
    proc = subprocess.run([sys.executable, "-m", "experiments.export_speed", "--onnx", str(path),
                           "--batch", "1", "--samples", "4502", "--runs", "1", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "| onnxruntime (`aasist export` file) |" in proc.stdout
    result = json.loads(out.read_text())
    assert result["max_abs_logit_diff"] < ATOL and result["eager_s"] > 0 < result["onnxruntime_s"]


@needs_export
@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("g++") or shutil.which("c++")),
                    reason="torch.compile's inductor needs a C++ compiler")
def test_the_speed_script_times_torch_compile(exported, tmp_path):
    path = exported("AASIST-L")
    out = tmp_path / "speed.json"
    proc = subprocess.run([sys.executable, "-m", "experiments.export_speed", "--onnx", str(path),
                           "--batch", "1", "--samples", "4502", "--runs", "1", "--compile",
                           "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| `torch.compile` of the eager model |" in proc.stdout
    result = json.loads(out.read_text())
    assert result["compile_diff"] < ATOL and result["compile_s"] > 0
