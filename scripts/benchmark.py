"""Throughput, side by side: our AASIST against the official code, data pipeline, evaluation, predict.

    python scripts/benchmark.py [--official-dir PATH/TO/clovaai-aasist] [--sections model,data,eval,predict,augment]
                                [--models AASIST-L,AASIST] [--devices cpu,cuda] [--rounds 3] [--json OUT]

model    eval forward (batch 8 x 64600 samples, inference_mode) and training step (forward,
         backward, Adam; batch 8), each in a fresh subprocess so no process-wide setting
         leaks between implementations. "official" is clovaai/aasist's models/AASIST.py as
         shipped, imported from --official-dir without importing this package; "ours" is
         `import aasist; aasist.build_model(...)` as users run it; "ours, tuning off" sets
         AASIST_MALLOC_TUNING=0. Rounds alternate implementations; medians are reported
         after warm-up, ratios are official / ours from the same run. With official weights
         (bundled in aasist/pretrained, or --weights-dir) the logits of both are compared.
data     training-item throughput of a generated mini corpus: decoding FLAC vs the decoded cache.
eval     clips/s of `evaluate`'s batched loader (cache, default workers) + inference_mode, mini corpus.
predict  files/s and x real time of `python -m aasist predict`'s scorer on 4 s files.
augment  clips/s of each training augmentation (default parameters, 4 s clips): per clip on
         the CPU, as a batch of 24 on the CPU and on CUDA; codec bitrates on speech; with
         --rawboost-dir, the authors' per-utterance numpy RawBoost for comparison.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIP_SECONDS = 64600 / 16000


# ----------------------------------------------------------------------------- worker
# Runs in a child process: `python scripts/benchmark.py --worker '{json}'`. It imports the
# official module or our package, never both, and prints one JSON line.

def _worker(spec: dict) -> None:
    import torch

    config = json.loads((ROOT / "config" / f"{spec['model']}.conf").read_text())
    model_config = config["model_config"]
    device = torch.device(spec["device"])
    if spec["impl"] == "official":
        sys.path.insert(0, spec["official_dir"])
        from models.AASIST import Model  # clovaai/aasist, as shipped: not a dependency

        model = Model(model_config)
        forward = lambda x: model(x)[1]  # noqa: E731 - official forward returns (hidden, logits)
    else:
        sys.path.insert(0, str(ROOT))
        import aasist

        model = aasist.build_model(model_config)
        forward = model
    model.to(device)
    weights = spec.get("weights")
    if weights:
        model.load_state_dict(torch.load(weights, map_location=device))
    gen = torch.Generator().manual_seed(0)
    x = (0.1 * torch.randn(spec["batch"], 64600, generator=gen)).to(device)
    y = torch.randint(0, 2, (spec["batch"],), generator=gen).to(device)
    amp = spec.get("amp", False) and device.type == "cuda"
    dtype = torch.bfloat16 if amp and torch.cuda.is_bf16_supported() else torch.float16

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    result = {}
    if spec["mode"] == "eval":
        model.eval()

        def step():
            with torch.inference_mode(), torch.autocast("cuda", dtype=dtype, enabled=amp):
                return forward(x)
        result["logits"] = step().float().cpu().numpy().tolist() if weights else None
    else:
        model.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-4)
        weight = torch.tensor([0.1, 0.9], device=device)

        def step():
            with torch.autocast("cuda", dtype=dtype, enabled=amp):
                logits = forward(x)
            loss = torch.nn.functional.cross_entropy(logits.float(), y, weight=weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    times = []
    for i in range(spec["warmup"] + spec["repeats"]):
        sync()
        start = time.perf_counter()
        step()
        sync()
        if i >= spec["warmup"]:
            times.append(time.perf_counter() - start)
    result["times"] = times
    print(json.dumps(result))


def _run_worker(spec: dict, tuning: bool = True) -> dict:
    env = {**os.environ, "AASIST_MALLOC_TUNING": "1" if tuning else "0"}
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True,
                          text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark worker failed ({spec['impl']} {spec['mode']}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- sections

def bench_model(args, weights_dir: Path | None) -> list[dict]:
    """Eval forward and training step for each model, device and implementation."""
    rows = []
    impls = [("ours", True)]
    if args.ours_untuned:
        impls.append(("ours, tuning off", False))
    if args.official_dir:
        impls.append(("official", False))
    for device in args.devices:
        for model in args.models:
            weights = weights_dir / f"{model}.pth" if weights_dir else None
            weights = str(weights) if weights and weights.is_file() else None
            for mode, batch in (("eval", 8), ("train", 8)):
                for amp in ([False, True] if device == "cuda" else [False]):
                    samples = {name: [] for name, _ in impls}
                    logits = {}
                    for _ in range(args.rounds):  # alternate implementations round by round
                        for name, tuning in impls:
                            spec = dict(impl="official" if name == "official" else "ours", mode=mode,
                                        model=model, device=device, batch=batch, amp=amp,
                                        warmup=args.warmup, repeats=args.repeats,
                                        official_dir=str(args.official_dir or ""),
                                        weights=weights if mode == "eval" else None)
                            out = _run_worker(spec, tuning)
                            samples[name] += out["times"]
                            if out.get("logits") is not None:
                                logits[name] = out["logits"]
                    for name, _ in impls:
                        med = statistics.median(samples[name])
                        row = dict(section="model", device=device, model=model, mode=mode,
                                   amp=amp, impl=name, batch=batch, median_s=med,
                                   clips_per_s=batch / med, x_realtime=batch * CLIP_SECONDS / med,
                                   n=len(samples[name]), speedup_vs_official=None)
                        if "official" in samples:
                            row["speedup_vs_official"] = statistics.median(samples["official"]) / med
                        if name != "ours" and name in logits and "ours" in logits:
                            import numpy as np
                            row["max_abs_logit_diff_vs_ours"] = float(
                                np.abs(np.array(logits[name]) - np.array(logits["ours"])).max())
                        rows.append(row)
    return rows


def _mini_corpus(tmp: Path, sizes=None) -> Path:
    sys.path.insert(0, str(ROOT))
    from aasist.data.mini import make_mini

    return make_mini(tmp, seed=0, sizes=sizes, progress=False)


def bench_data(args, corpus: Path) -> list[dict]:
    """Training-item throughput: decode FLAC every epoch vs the memory-mapped int16 cache."""
    from aasist.data.cache import DecodedCache, benchmark_pipeline
    from aasist.data.datasets import TrainDataset
    from aasist.data.protocols import la_paths, read_cm_protocol

    paths = la_paths(corpus, "train")
    records = read_cm_protocol(paths.protocol)
    cache = DecodedCache.build_or_load(records, paths.flac_dir, corpus / ".cache" / "train", progress=False)
    rows = []
    for workers in (0, 2):
        rates = {}
        for name, source in (("flac", paths.flac_dir), ("cache", cache)):
            ds = TrainDataset(records, source, 64600)
            rates[name] = statistics.median(
                benchmark_pipeline(ds, n_items=args.data_items, num_workers=workers, batch_size=24)
                for _ in range(args.rounds))
        for name, rate in rates.items():
            rows.append(dict(section="data", impl=name, num_workers=workers, items_per_s=rate,
                             speedup_vs_flac=rate / rates["flac"]))
    return rows


def bench_eval(args, corpus: Path) -> list[dict]:
    """Evaluation clips/s through the same loader and scorer that `evaluate` uses."""
    import torch

    import aasist
    from aasist.evaluate import eval_loader, load_split, score_loader

    rows = []
    for model_name in args.models:
        config = aasist.load_config(ROOT / "config" / f"{model_name}.conf",
                                    [f"database_path={corpus}", "use_cache=true",
                                     "batch_size=8"])
        records, source, _ = load_split(config, "dev")
        records = records[:args.eval_items]
        model = aasist.build_model(config["model_config"]).eval()
        loader = eval_loader(records, source, config, torch.device("cpu"))
        score_loader(model, loader, torch.device("cpu"), progress=False)  # warm-up
        times = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            score_loader(model, loader, torch.device("cpu"), progress=False)
            times.append(time.perf_counter() - start)
        med = statistics.median(times)
        rows.append(dict(section="eval", model=model_name, device="cpu", clips=len(records),
                         clips_per_s=len(records) / med, x_realtime=len(records) * CLIP_SECONDS / med))
    return rows


def bench_predict(args, weights_dir: Path | None) -> list[dict]:
    """Files/s and x real time of the predict scorer (AASIST-L)."""
    import aasist.predict as predict

    weights = weights_dir / "AASIST-L.pth" if weights_dir else None
    if not weights or not weights.is_file():
        return []
    detector = predict.Detector(ROOT / "config" / "AASIST-L.conf", weights, device="cpu")
    out = predict.benchmark_predict(detector, n_files=args.predict_files, seconds=4.0)
    return [dict(section="predict", model="AASIST-L", **out)]


# ----------------------------------------------------------------------------- augmentation

_AUTHORS_RAWBOOST = """
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
import RawBoost as rb  # the authors' code, from the user's checkout: not a dependency
clips = np.load(sys.argv[2])
d = json.loads(sys.argv[3])
def algo5(x):  # their algorithm 5: LnL then ISD, default parameters
    y = rb.LnL_convolutive_noise(x, d["N_f"], d["nBands"], d["minF"], d["maxF"], d["minBW"], d["maxBW"],
                                 d["minCoeff"], d["maxCoeff"], d["minG"], d["maxG"], d["minBiasLinNonLin"],
                                 d["maxBiasLinNonLin"], 16000)
    return rb.ISD_additive_noise(y, d["P"], d["g_sd"])
algo5(clips[0])
start = time.perf_counter()
for x in clips:
    algo5(x)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def _speech_clips(n: int, length: int = 64600):
    """(n, length) float32 bona fide mini-corpus utterances, repeated to ``length``."""
    import numpy as np
    from aasist.data.mini import synthesize_utterance

    rows = [synthesize_utterance(0, "train", i, 80 + i % 20, None) for i in range(min(n, 8))]
    return np.stack([np.resize(rows[i % len(rows)], length) / 32768 for i in range(n)]).astype(np.float32)


def _time_clips(fn, n_clips: int, rounds: int, sync=lambda: None) -> float:
    """Median clips/s of ``fn()``, which processes ``n_clips`` clips, after one warm-up."""
    fn()
    sync()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return n_clips / statistics.median(times)


def bench_augment(args) -> list[dict]:
    """Throughput of each transform: per clip (CPU), batched (CPU, CUDA); codec bitrates."""
    import io

    import numpy as np
    import soundfile as sf
    import torch
    from aasist.augment import TRANSFORMS, Augmenter, validate_augment
    from aasist.augment.codecs import LOSSY_CODECS

    batch, clips = 24, _speech_clips(24)
    variants = [({"name": n}, n) for n in TRANSFORMS if n != "rawboost"]
    variants += [({"name": "rawboost", "algo": a}, f"rawboost {a}") for a in (1, 2, 3, 5)]
    rows = []
    for entry, label in variants:
        aug = Augmenter(validate_augment([{**entry, "p": 1.0}]))
        rng = np.random.default_rng(0)
        per_clip = _time_clips(lambda: [aug.whole_chain(c, rng) for c in clips[:args.augment_clips]],
                               args.augment_clips, args.rounds)
        rows.append(dict(section="augment", transform=label, where="cpu, per clip", clips_per_s=per_clip))
        if aug.clip_stage:
            continue   # CPU-only transforms (libsndfile) run per clip in the data loader
        for device in args.devices:
            x = torch.from_numpy(clips).to(device)
            gen = torch.Generator(device=device).manual_seed(0)
            sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
            rate = _time_clips(lambda: aug.batch(x, gen), batch, args.rounds, sync)
            rows.append(dict(section="augment", transform=label, where=f"{device}, batch of {batch}",
                             clips_per_s=rate))
    rows += _bench_recipe(args, clips, batch)
    if args.rawboost_dir:
        rows.append(_bench_authors_rawboost(args, clips[:args.augment_clips]))
    for codec, (container, subtype) in LOSSY_CODECS.items():
        for level in (0.5, 0.95):
            buffer = io.BytesIO()
            sf.write(buffer, clips[0], 16000, format=container, subtype=subtype, compression_level=level)
            kbps = buffer.tell() * 8 / (len(clips[0]) / 16000) / 1000
            rows.append(dict(section="augment", transform=f"codec {codec} @ {level}", where="bitrate",
                             kbps=kbps))
    for row in rows:
        if "clips_per_s" in row:
            row["x_realtime"] = row["clips_per_s"] * CLIP_SECONDS
    return rows


def _bench_recipe(args, clips, batch: int) -> list[dict]:
    """The augment list of config/AASIST-L_robust.conf with its probabilities: its per-clip
    stage (one data-loader process) and its batch stage, as training runs them."""
    import numpy as np
    import torch
    import aasist
    from aasist.augment import Augmenter

    aug = Augmenter(aasist.load_config(ROOT / "config" / "AASIST-L_robust.conf")["augment"])
    rng = np.random.default_rng(0)
    n = 4 * args.augment_clips   # probabilities < 1: average over more clips
    stack = np.resize(clips, (n, clips.shape[1]))
    label = "recipe AASIST-L_robust"
    rows = [dict(section="augment", transform=f"{label}: per-clip stage", where="cpu, per clip",
                 clips_per_s=_time_clips(lambda: [aug.clip(c, rng) for c in stack], n, args.rounds))]
    for device in args.devices:
        x = torch.from_numpy(clips).to(device)
        gen = torch.Generator(device=device).manual_seed(0)
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        rows.append(dict(section="augment", transform=f"{label}: batch stage",
                         where=f"{device}, batch of {batch}",
                         clips_per_s=_time_clips(lambda: aug.batch(x, gen), batch, args.rounds, sync)))
    return rows


def _bench_authors_rawboost(args, clips) -> dict:
    """The authors' numpy RawBoost algorithm 5, per clip, in a subprocess (their code needs
    numpy < 2: pass such an interpreter with --rawboost-python)."""
    from dataclasses import asdict

    import numpy as np
    from aasist.augment.rawboost import RawBoostParams

    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "clips.npy", clips.astype(np.float64))
        proc = subprocess.run([args.rawboost_python, "-c", _AUTHORS_RAWBOOST, str(args.rawboost_dir),
                               str(Path(tmp) / "clips.npy"), json.dumps(asdict(RawBoostParams()))],
                              capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"the authors' RawBoost failed (it needs numpy < 2; see "
                           f"--rawboost-python):\n{proc.stderr[-2000:]}")
    seconds = json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]
    return dict(section="augment", transform="rawboost 5 (authors' numpy)", where="cpu, per clip",
                clips_per_s=len(clips) / seconds)


def _table(rows: list[dict], keys: list[str]) -> str:
    def fmt(v):
        return f"{v:.3g}" if isinstance(v, float) else ("" if v is None else str(v))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--sections", default="model,data,eval,predict")
    parser.add_argument("--official-dir", type=Path, help="a checkout of github.com/clovaai/aasist")
    parser.add_argument("--weights-dir", type=Path, default=ROOT / "aasist" / "pretrained",
                        help="folder with AASIST.pth / AASIST-L.pth (logit comparison, predict)")
    parser.add_argument("--models", default="AASIST-L,AASIST")
    parser.add_argument("--devices", default=None, help="default: cpu, plus cuda when available")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ours-untuned", action="store_true", help="also time ours with AASIST_MALLOC_TUNING=0")
    parser.add_argument("--data-items", type=int, default=480)
    parser.add_argument("--eval-items", type=int, default=96)
    parser.add_argument("--predict-files", type=int, default=32)
    parser.add_argument("--augment-clips", type=int, default=24, help="clips timed per clip (augment)")
    parser.add_argument("--rawboost-dir", type=Path, help="a checkout of TakHemlata/RawBoost-antispoofing")
    parser.add_argument("--rawboost-python", default=sys.executable,
                        help="python with numpy < 2 to run the authors' RawBoost (default: this one)")
    parser.add_argument("--json", type=Path, help="also write all rows as JSON")
    args = parser.parse_args()
    if args.worker:
        _worker(json.loads(args.worker))
        return
    sys.path.insert(0, str(ROOT))
    import torch

    args.models = args.models.split(",")
    args.devices = (args.devices.split(",") if args.devices
                    else ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    if args.official_dir and not (args.official_dir / "models" / "AASIST.py").is_file():
        sys.exit(f"error: {args.official_dir}/models/AASIST.py not found; pass a clovaai/aasist checkout")
    weights_dir = args.weights_dir if args.weights_dir and args.weights_dir.is_dir() else None
    sections = args.sections.split(",")
    machine = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
               "torch": torch.__version__, "threads": torch.get_num_threads(),
               "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    print(f"machine: {machine}")
    rows: list[dict] = []
    if "model" in sections:
        model_rows = bench_model(args, weights_dir)
        rows += model_rows
        print("\n## model (seconds per batch of 8 x 64600 samples; medians)\n")
        print(_table(model_rows, ["device", "model", "mode", "amp", "impl", "median_s", "clips_per_s",
                                  "x_realtime", "speedup_vs_official", "max_abs_logit_diff_vs_ours", "n"]))
    with tempfile.TemporaryDirectory() as tmp:
        corpus = None
        if {"data", "eval"} & set(sections):
            corpus = _mini_corpus(Path(tmp))
        if "data" in sections:
            data_rows = bench_data(args, corpus)
            rows += data_rows
            print("\n## data pipeline (training items of 64600 samples per second; mini corpus)\n")
            print(_table(data_rows, ["impl", "num_workers", "items_per_s", "speedup_vs_flac"]))
        if "eval" in sections:
            eval_rows = bench_eval(args, corpus)
            rows += eval_rows
            print("\n## evaluation (dev split of the mini corpus, cache, batch 8)\n")
            print(_table(eval_rows, ["model", "device", "clips", "clips_per_s", "x_realtime"]))
    if "predict" in sections:
        predict_rows = bench_predict(args, weights_dir)
        rows += predict_rows
        if predict_rows:
            print("\n## predict (AASIST-L, 4 s files)\n")
            print(_table(predict_rows, list(predict_rows[0])))
    if "augment" in sections:
        augment_rows = bench_augment(args)
        rows += augment_rows
        print("\n## augmentation (4.04 s clips; default parameters, p = 1)\n")
        print(_table(augment_rows, ["transform", "where", "clips_per_s", "x_realtime", "kbps"]))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
