"""Throughput, side by side: our AASIST against the official code, data pipeline, evaluation,
predict, stream.

    python -m experiments.benchmark [--official-dir PATH/TO/clovaai-aasist] [--sections model,roofline,data,eval,predict,stream,epoch,augment]
                                [--models AASIST-L,AASIST] [--devices cpu,cuda] [--rounds 3] [--json OUT]
                                [--epoch-variant LABEL=KEY=VALUE;...] [--smoke]

roofline FLOPs per window and per second of audio (torch.utils.flop_counter), the achieved
         GFLOP/s of ours (eval forward, training step) and the CPU's own fp32 GEMM GFLOP/s
         (torch.mm 2048 x 2048, same threads), and their ratio.
model    eval forward (batch 8 x 64600 samples, inference_mode) and training step (forward,
         backward, Adam; batch 8; --model-batch), each in a fresh subprocess so no process-wide setting
         leaks between implementations. "official" is clovaai/aasist's models/AASIST.py as
         shipped, imported from --official-dir without importing this package; "ours" is
         `aasist.build_model(...)` with the process settings the command line applies
         (aasist.runtime.apply, allocator tuning included); "ours, tuning off" sets
         AASIST_MALLOC_TUNING=0. Rounds alternate implementations; medians are reported
         after warm-up, ratios are official / ours from the same run. With official weights
         (bundled in aasist/pretrained, or --weights-dir) the logits of both are compared.
data     training-item throughput of a generated mini corpus: decoding FLAC vs the decoded cache.
eval     clips/s of `evaluate`'s batched loader (cache, default workers) + inference_mode, mini corpus.
predict  files/s and x real time of `python -m aasist predict`'s scorer on 4 s files.
stream   p50/p95 latency and real-time factor of `python -m aasist stream` at hops 0.25/0.5/1 s.
epoch    one training epoch (official recipe: batch 24, 64,600-sample crops, Adam, cosine) on
         --epoch-clips clips with ASVspoof 2019 LA's duration distribution, then scoring
         --epoch-dev-clips dev clips; ours (decoded cache, our loop, the config's seed and
         cuDNN flags) against the official main.py loop on FLAC files (--official-dir, its own
         seeding and flags), each in a fresh subprocess after two warm-up steps, with the
         projected time of an LA epoch and of the 100-epoch recipe. --epoch-variant
         'LABEL=KEY=VALUE;...' also times ours with config overrides ('config=NAME' takes
         another file of config/, e.g. AASIST-L_robust). Full LA scale (25,380 + 24,844
         clips) is a GPU job; on a CPU run it at a small scale.
augment  clips/s of each training augmentation (default parameters, 4 s clips): per clip on
         the CPU, as a batch of 24 on the CPU and on CUDA; codec bitrates on speech; with
         --rawboost-dir, the authors' per-utterance numpy RawBoost for comparison.

--cpu-isa default,avx2 runs the model (and epoch) workers twice: as the CPU is, and with oneDNN
and ATen held to AVX2 (ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2), the kernels an AVX2-only
CPU gets. Every row names the CPU, its ISA, the encoder layout and SELU kernel the package chose,
and the worker's peak resident memory (peak_rss_mb).

--smoke runs every chosen section at a tiny scale (one model, a few items, batch 1): it checks
that the script works, and its numbers mean nothing.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIP_SECONDS = 64600 / 16000


# ----------------------------------------------------------------------------- worker
# Runs in a child process: `python -m experiments.benchmark --worker '{json}'`. It imports the
# official module or our package, never both, and prints one JSON line.

def _worker(spec: dict) -> None:
    if spec.get("section") == "epoch":
        _epoch_worker(spec)
        return
    if spec.get("section") == "roofline":
        _roofline_worker(spec)
        return
    import torch

    device = torch.device(spec["device"])
    model, forward = _worker_model(spec, device)
    weights = spec.get("weights")
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
            _train_step(forward, optimizer, x, y, weight, torch.autocast("cuda", dtype=dtype, enabled=amp))
    times = []
    for i in range(spec["warmup"] + spec["repeats"]):
        sync()
        start = time.perf_counter()
        step()
        sync()
        if i >= spec["warmup"]:
            times.append(time.perf_counter() - start)
    result["times"] = times
    result.update(_worker_facts(spec["impl"], spec["mode"] == "train"))
    print(json.dumps(result))


def _worker_model(spec: dict, device):
    """(model, forward) of one implementation on ``device``, with the spec's weights if any;
    ``forward(x)`` maps (B, samples) to (B, 2) logits."""
    import torch

    model_config = json.loads((ROOT / "config" / f"{spec['model']}.conf").read_text())["model_config"]
    if spec["impl"] == "official":
        sys.path.insert(0, spec["official_dir"])
        from models.AASIST import Model  # clovaai/aasist, as shipped: not a dependency

        model = Model(model_config)
        forward = lambda x: model(x)[1]  # noqa: E731 - official forward returns (hidden, logits)
    else:
        from aasist import runtime
        from aasist.pretrained import build_model

        runtime.apply(runtime.Settings.from_env())  # as the command line starts
        model = build_model(model_config)
        forward = model
    model.to(device)
    if spec.get("weights"):
        model.load_state_dict(torch.load(spec["weights"], map_location=device))
    return model, forward


def _worker_facts(impl: str, training: bool) -> dict:
    """Peak RSS of this worker and, for ours, the kernels the package chose for this CPU."""
    import resource

    import torch

    facts = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
             "isa": torch.backends.cpu.get_cpu_capability()}
    if impl == "ours":
        from aasist import runtime

        kernels = runtime.kernels_for("cpu")
        facts.update(layout=kernels.train_layout if training else kernels.eval_layout,
                     selu=kernels.selu, onednn_avx512=runtime.onednn_avx512())
    return facts


ISA_ENV = {"default": {}, "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}}


def _run_worker(spec: dict, tuning: bool = True) -> dict:
    env = {**os.environ, "AASIST_MALLOC_TUNING": "1" if tuning else "0",
           **ISA_ENV[spec.get("cpu_isa", "default")]}
    proc = subprocess.run([sys.executable, "-m", "experiments.benchmark", "--worker", json.dumps(spec)],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark worker failed ({spec['impl']} {spec.get('mode', spec.get('section'))}):\n{proc.stderr[-3000:]}")
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
    for device, cpu_isa in [(d, i) for d in args.devices for i in (args.cpu_isa if d == "cpu" else ["default"])]:
        for model in args.models:
            weights = weights_dir / f"{model}.pth" if weights_dir else None
            weights = str(weights) if weights and weights.is_file() else None
            for mode, batch in (("eval", args.model_batch), ("train", args.model_batch)):
                for amp in ([False, True] if device == "cuda" else [False]):
                    samples = {name: [] for name, _ in impls}
                    logits, facts = {}, {}
                    for _ in range(args.rounds):  # alternate implementations round by round
                        for name, tuning in impls:
                            spec = dict(impl="official" if name == "official" else "ours", mode=mode,
                                        model=model, device=device, batch=batch, amp=amp,
                                        cpu_isa=cpu_isa,
                                        warmup=args.warmup, repeats=args.repeats,
                                        official_dir=str(args.official_dir or ""),
                                        weights=weights if mode == "eval" else None)
                            out = _run_worker(spec, tuning)
                            samples[name] += out["times"]
                            facts[name] = {k: out[k] for k in ("peak_rss_mb", "isa", "layout",
                                                               "selu") if k in out}
                            if out.get("logits") is not None:
                                logits[name] = out["logits"]
                    for name, _ in impls:
                        med = statistics.median(samples[name])
                        row = dict(section="model", device=device, cpu_isa=cpu_isa, model=model,
                                   mode=mode, amp=amp, impl=name, batch=batch, median_s=med,
                                   **facts[name],
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
    from aasist.data.mini import make_mini

    return make_mini(tmp, seed=0, sizes=sizes, progress=False)


class _SwitchableIndices:
    """A sampler whose index list can change between epochs (workers stay up meanwhile)."""

    def __init__(self, indices: list[int]) -> None:
        self.indices = indices

    def __iter__(self):
        return iter(list(self.indices))

    def __len__(self) -> int:
        return len(self.indices)


def pipeline_rate(dataset, n_items: int, *, num_workers: int = 0, batch_size: int = 32,
                  seed: int = 0) -> float:
    """Items per second that ``dataset`` delivers through a DataLoader (batches collated).

    Reads ``n_items`` items in a seeded random order (cycling if the dataset is smaller)
    with ``num_workers`` worker processes. A short untimed warm-up epoch starts the workers
    (kept alive with ``persistent_workers``) and warms the page cache for those items; the
    timed epoch then runs from ``iter()`` to its last batch.
    """
    import torch
    from torch.utils.data import DataLoader

    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(dataset), generator=g).tolist()
    timed = [order[i % len(order)] for i in range(n_items)]
    sampler = _SwitchableIndices(timed[:max(batch_size * max(num_workers, 1) * 2, batch_size)])
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                        persistent_workers=num_workers > 0)
    for _ in loader:  # warm-up epoch: worker start-up, imports, first file opens
        pass
    sampler.indices = timed
    count = 0
    t0 = time.perf_counter()
    for batch in loader:
        count += len(batch[0])
    elapsed = time.perf_counter() - t0
    del loader  # shuts the persistent workers down
    return count / elapsed


def _roofline_worker(spec: dict) -> None:
    """Ours, as the command line runs it: FLOPs of a window (torch.utils.flop_counter), the
    achieved GFLOP/s of the eval forward and the training step, and this CPU's own fp32 GEMM
    rate (torch.mm 2048 x 2048) at the same thread count. Prints one JSON line."""
    import statistics

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from aasist import runtime
    from aasist.pretrained import build_model

    runtime.apply(runtime.Settings.from_env())
    model_config = json.loads((ROOT / "config" / f"{spec['model']}.conf").read_text())["model_config"]
    model = build_model(model_config)
    batch, length = spec["batch"], 64600
    gen = torch.Generator().manual_seed(0)
    x = 0.1 * torch.randn(batch, length, generator=gen)
    y = torch.randint(0, 2, (batch,), generator=gen)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def eval_step():
        model.eval()
        with torch.inference_mode():
            model(x)

    def train_step():
        model.train()
        _train_step(model, optimizer, x, y)

    def timed(step) -> float:
        for _ in range(spec["warmup"]):
            step()
        times = []
        for _ in range(spec["repeats"]):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    # counted on a twin with kernels that need no custom autograd Function (the counter
    # cannot follow those); the arithmetic is the same whatever the layout
    from aasist.nn import Kernels

    twin = build_model(model_config)
    twin.kernels = Kernels(train_layout="channels_last", eval_layout="channels_last", selu="torch")
    flops = {}
    with FlopCounterMode(display=False) as counter:
        twin.eval()
        with torch.no_grad():
            twin(x)
    flops["eval"] = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:
        twin.train()
        _train_step(twin, torch.optim.Adam(twin.parameters(), lr=1e-4), x, y)
    flops["train"] = counter.get_total_flops()
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    gemm_s = timed(lambda: torch.mm(a, b))
    result = {"model": spec["model"], "batch": batch, "threads": torch.get_num_threads(),
              "isa": torch.backends.cpu.get_cpu_capability(),
              "gflop_per_window": flops["eval"] / batch / 1e9,
              "gflop_per_audio_s": flops["eval"] / batch / 1e9 / CLIP_SECONDS,
              "gemm_gflops": 2 * 2048 ** 3 / gemm_s / 1e9}
    for mode, step in (("eval", eval_step), ("train", train_step)):
        seconds = timed(step)
        result[f"{mode}_s"] = seconds
        result[f"{mode}_gflops"] = flops[mode] / seconds / 1e9
        result[f"{mode}_fraction_of_gemm"] = result[f"{mode}_gflops"] / result["gemm_gflops"]
    print(json.dumps(result))


def bench_roofline(args) -> list[dict]:
    """How close ours runs to the machine: achieved GFLOP/s against its own GEMM rate."""
    rows = []
    for cpu_isa in args.cpu_isa:
        for model in args.models:
            spec = dict(section="roofline", impl="ours", model=model, batch=args.model_batch,
                        warmup=args.warmup, repeats=args.repeats, cpu_isa=cpu_isa)
            rows.append(dict(section="roofline", cpu_isa=cpu_isa, **_run_worker(spec)))
    return rows


def bench_data(args, corpus: Path) -> list[dict]:
    """Training-item throughput: decode FLAC every epoch vs the memory-mapped int16 cache."""
    from aasist.data.cache import DecodedCache
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
                pipeline_rate(ds, n_items=args.data_items, num_workers=workers,
                              batch_size=args.data_batch)
                for _ in range(args.rounds))
        for name, rate in rates.items():
            rows.append(dict(section="data", impl=name, num_workers=workers, items_per_s=rate,
                             speedup_vs_flac=rate / rates["flac"]))
    return rows


def bench_eval(args, corpus: Path) -> list[dict]:
    """Evaluation clips/s through the same loader and scorer that `evaluate` uses."""
    import torch

    import aasist
    from aasist.evaluate import eval_loader, load_split
    from aasist.inference import Engine, scoring_window

    rows = []
    for model_name in args.models:
        config = aasist.load_config(ROOT / "config" / f"{model_name}.conf",
                                    [f"database_path={corpus}", "use_cache=true",
                                     "batch_size=8"])
        records, source = load_split(config, "dev")
        records = records[:args.eval_items]
        engine = Engine(aasist.build_model(config["model_config"]),
                        scoring_window(config["model_config"]))
        loader = eval_loader(records, source, config, torch.device("cpu"))
        engine.score_loader(loader, progress=False)  # warm-up
        times = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            engine.score_loader(loader, progress=False)
            times.append(time.perf_counter() - start)
        med = statistics.median(times)
        rows.append(dict(section="eval", model=model_name, device="cpu", clips=len(records),
                         clips_per_s=len(records) / med, x_realtime=len(records) * CLIP_SECONDS / med))
    return rows


def speechlike(seconds: float, sample_rate: int = 16000, seed: int = 0):
    """A seeded float32 voice-like signal: a low tone with a syllable-rate envelope, noise."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = max(1, int(round(seconds * sample_rate)))
    t = np.arange(n) / sample_rate
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 6) * t) ** 2
    x = 0.2 * envelope * np.sin(2 * np.pi * rng.uniform(90, 250) * t) \
        + 0.02 * rng.standard_normal(n)
    return np.clip(x, -1, 1).astype(np.float32)


def make_test_files(folder: Path, n_files: int, seconds: float, sample_rate: int = 16000,
                    seed: int = 0) -> list[str]:
    """Write ``n_files`` seeded voice-like 16-bit FLAC clips of ``seconds`` s each."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n_files):
        path = folder / f"clip_{k:05d}.flac"
        sf.write(str(path), speechlike(seconds, sample_rate, seed=seed * 100_003 + k),
                 sample_rate, subtype="PCM_16")
        paths.append(str(path))
    return paths


def bench_predict(args, tmp: Path) -> list[dict]:
    """Files/s and x real time of `predict_paths` (the bundled AASIST-L) on generated files.

    Decoding, resampling, batching and inference are timed; file generation and a warm-up
    on two files are not. cpu_s is this process's CPU time (its DataLoader worker's is not
    included); the load average says how busy the machine was.
    """
    import torch

    from aasist.predict import Detector, predict_paths

    detector = Detector(device="cpu")
    files = make_test_files(tmp / "predict", args.predict_files, args.predict_seconds)
    for _ in predict_paths(detector, files[:2], progress=False):
        pass  # warm-up: kernels and allocator
    load_before = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    results = list(predict_paths(detector, files, progress=False))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    failed = [r["error"] for r in results if "error" in r]
    if failed:
        raise RuntimeError(f"benchmark: {len(failed)} generated file(s) failed: {failed[0]}")
    audio_s = len(files) * args.predict_seconds
    return [dict(section="predict", model="AASIST-L", device="cpu", files=len(files),
                 seconds_per_file=args.predict_seconds, windows=sum(r["windows"] for r in results),
                 batch_size=detector.batch_size, torch_threads=torch.get_num_threads(),
                 wall_s=wall, files_per_s=len(files) / wall, x_real_time=audio_s / wall,
                 windows_per_s=sum(r["windows"] for r in results) / wall,
                 vad=detector.vad is not None,
                 cpu_s=cpu, load_avg_1min_before=load_before)]


def bench_stream(args) -> list[dict]:
    """Latency (p50/p95) and real-time factor of `python -m aasist stream` at hops of 0.25,
    0.5 and 1 s: a generated clip replayed in real time through StreamScorer (bundled
    AASIST-L), as `stream --input FILE` does. real_time_factor = mean forward time / hop:
    below 1 every hop is scored; above, windows are skipped (counted in `skipped`)."""
    import numpy as np

    from aasist.predict import Detector
    from aasist.stream import StreamScorer, paced

    detector = Detector(device="cpu")
    detector.warm_up()
    x = speechlike(args.stream_seconds, seed=1)
    rows = []
    for hop in (0.25, 0.5, 1.0):
        load_before = os.getloadavg()[0]
        scorer = StreamScorer(detector, hop_seconds=hop)
        latency = [line["latency_ms"] for line in scorer.run(paced(x))]
        forward_ms = 1000 * scorer.busy_s / scorer.scored
        rows.append(dict(section="stream", model="AASIST-L", device="cpu", hop_s=hop,
                         audio_s=args.stream_seconds, windows=scorer.scored,
                         skipped=scorer.skipped, p50_latency_ms=float(np.percentile(latency, 50)),
                         p95_latency_ms=float(np.percentile(latency, 95)),
                         forward_ms=forward_ms, real_time_factor=forward_ms / (1000 * hop),
                         load_avg_1min_before=load_before))
    return rows


# ----------------------------------------------------------------------------- epoch

LA_TRAIN_CLIPS, LA_DEV_CLIPS = 25_380, 24_844


def la_like_durations(n: int, seed: int = 0):
    """``n`` clip lengths in samples shaped like ASVspoof 2019 LA train: log-normal around
    3.2 s, 1-13 s (most clips are shorter than the 4.04 s crop, so padding and cropping both
    happen, as in the real corpus)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    seconds = np.clip(rng.lognormal(np.log(3.2), 0.4, n), 1.0, 13.0)
    return (seconds * 16000).astype(int)


def _write_flac(job: tuple[str, int, int]) -> None:
    import soundfile as sf

    path, length, seed = job
    sf.write(path, speechlike(length / 16000, seed=seed), 16000, subtype="PCM_16")


def write_la_like(root: Path, n_train: int, n_dev: int, seed: int = 0) -> Path:
    """An ASVspoof 2019 LA-layout folder (FLAC + CM protocols + dev ASV scores) of generated
    clips with LA's duration distribution and class balance (1 in 10 bona fide)."""
    from concurrent.futures import ProcessPoolExecutor

    import numpy as np

    from aasist.data.protocols import la_paths

    rng = np.random.default_rng(seed)
    jobs = []
    for split, n, prefix in (("train", n_train, "LA_T_"), ("dev", n_dev, "LA_D_")):
        paths = la_paths(root, split)
        paths.flac_dir.mkdir(parents=True, exist_ok=True)
        paths.protocol.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        for k, length in enumerate(la_like_durations(n, seed + len(split))):
            utt = f"{prefix}{k:07d}"
            bona = k % 10 == 0
            jobs.append((str(paths.flac_dir / f"{utt}.flac"), int(length), int(rng.integers(1 << 30))))
            lines.append(f"LA_0001 {utt} - {'-' if bona else 'A01'} {'bonafide' if bona else 'spoof'}")
        paths.protocol.write_text("\n".join(lines) + "\n")
    with ProcessPoolExecutor(min(os.cpu_count() or 1, 16)) as pool:  # 25k clips: minutes on one core
        list(pool.map(_write_flac, jobs, chunksize=64))
    # the official loader factory also reads an eval protocol (it never opens its audio here)
    eval_protocol = la_paths(root, "eval").protocol
    eval_protocol.write_text(la_paths(root, "dev").protocol.read_text())
    asv = la_paths(root, "dev").asv_scores
    asv.parent.mkdir(parents=True, exist_ok=True)
    asv.write_text("bonafide target 2.0\nbonafide target 1.5\nbonafide nontarget -2.0\n"
                   "bonafide nontarget -1.0\nA01 spoof 0.1\nA01 spoof 0.3\n")
    return root


def _epoch_worker(spec: dict) -> None:
    """One epoch + dev scoring in this process, ours or the official main.py loop."""
    import torch

    device = torch.device(spec["device"])
    if spec["impl"] == "official":
        train_s, score_s = _official_epoch(spec, device)
    else:
        train_s, score_s = _our_epoch(spec, device)
    facts = _worker_facts(spec["impl"], training=True)
    if device.type == "cuda":
        facts["gpu_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    print(json.dumps({"train_s": train_s, "score_s": score_s, **facts}))


def _train_step(forward, optimizer, x, y, weight=None, autocast=None) -> None:
    """One weighted cross-entropy step: ``forward`` maps (B, samples) ``x`` to (B, 2) logits,
    run under the ``autocast`` context when given."""
    import torch

    with autocast if autocast is not None else contextlib.nullcontext():
        logits = forward(x)
    loss = torch.nn.functional.cross_entropy(logits.float(), y, weight=weight)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def _warm_up(model, forward, optimizer, batch: int, device, steps: int = 2) -> None:
    """Training steps and one scoring batch on random input before the clock starts (kernel
    selection, cuDNN and cuBLAS handles), the same for every implementation. ``forward``
    maps (batch, 64600) samples to (batch, 2) logits."""
    import torch

    gen = torch.Generator().manual_seed(0)
    x = (0.1 * torch.randn(batch, 64600, generator=gen)).to(device)
    model.train()
    for _ in range(steps):
        _train_step(forward, optimizer, x, torch.randint(0, 2, (batch,), generator=gen).to(device))
    model.eval()
    with torch.inference_mode():
        forward(x)
    _sync(device)


def _our_epoch(spec: dict, device) -> tuple[float, float]:
    """Our `train` as it runs an epoch: seeds and cuDNN flags from the config, decoded cache,
    augmentation and AMP as configured, then `evaluate`'s scorer over the dev split."""
    import aasist
    from aasist import runtime
    from aasist import train as T
    from aasist.augment import train_augmentation
    from aasist.evaluate import eval_loader, load_split
    from aasist.inference import Engine, scoring_window

    runtime.apply(runtime.Settings.from_env())  # as the command line starts

    config = aasist.load_config(ROOT / "config" / f"{spec['config']}.conf",
                                [f"database_path={spec['root']}", "use_cache=true",
                                 f"batch_size={spec['batch']}", *spec["overrides"]])
    T.set_seed(config["seed"], config)
    amp = config["amp"] and device.type == "cuda"
    augment = train_augmentation(config, 0)
    loader, _, _ = T._train_loader(config, device, 0, 1, augment)
    model = aasist.build_model(config["model_config"], device)
    optimizer, scheduler = T.build_optimizer(model, config["optim_config"], 100 * len(loader))
    scaler = T.grad_scaler(amp)
    dev_records, dev_source = load_split(config, "dev")
    dev_loader = eval_loader(dev_records, dev_source, config, device)

    def forward(x):
        with aasist.runtime.autocast(device, amp):
            return model(x)
    _warm_up(model, forward, optimizer, config["batch_size"], device)
    start = time.perf_counter()
    T.train_epoch(model, loader, optimizer, scheduler, device, class_weights=config["class_weights"],
                  freq_aug=config["freq_aug"], amp=amp, scaler=scaler, epoch=0, progress=False,
                  augment=augment)
    _sync(device)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    Engine(model, scoring_window(config["model_config"]), amp=amp).score_loader(dev_loader,
                                                                                progress=False)
    _sync(device)
    return train_s, time.perf_counter() - start


def _official_epoch(spec: dict, device) -> tuple[float, float]:
    """clovaai/aasist main.py's own seeding, loaders, model, optimiser and train_epoch, as shipped."""
    import types

    sys.path.insert(0, spec["official_dir"])
    # main.py imports these at the top but the epoch loop never uses them; stand-ins let it
    # import where torchcontrib (unmaintained) or tensorboard are not installed.
    for name, attr in (("torchcontrib.optim", "SWA"), ("torch.utils.tensorboard", "SummaryWriter")):
        try:
            __import__(name)
        except ImportError:
            module = types.ModuleType(name)
            setattr(module, attr, object)
            sys.modules.setdefault(name.split(".")[0], types.ModuleType(name.split(".")[0]))
            sys.modules[name] = module
    import main as official  # not a dependency: the user's clovaai/aasist checkout
    from utils import create_optimizer, set_seed  # not a dependency

    config = json.loads((ROOT / "config" / f"{spec['model']}.conf").read_text())
    config["batch_size"] = spec["batch"]
    config["optim_config"]["epochs"] = 100
    set_seed(1234, config)  # main.py's default seed; cuDNN flags from the config
    root = Path(spec["root"])
    trn_loader, dev_loader, _ = official.get_loader(root, 1234, config)
    model = official.get_model(config["model_config"], device)
    config["optim_config"]["steps_per_epoch"] = len(trn_loader)
    optimizer, scheduler = create_optimizer(model.parameters(), config["optim_config"])
    _warm_up(model, lambda x: model(x)[1], optimizer, spec["batch"], device)  # (hidden, logits)
    start = time.perf_counter()
    official.train_epoch(trn_loader, model, optimizer, device, scheduler, config)
    _sync(device)
    train_s = time.perf_counter() - start
    trial = root / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.dev.trl.txt"
    start = time.perf_counter()
    official.produce_evaluation_file(dev_loader, model, device, str(root / "official_dev.txt"),
                                     str(trial))
    _sync(device)
    return train_s, time.perf_counter() - start


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def parse_variant(text: str) -> tuple[str, str | None, list[str]]:
    """'LABEL=KEY=VALUE;KEY=VALUE' -> (label, config name or None, overrides). The key
    ``config`` names another file of config/ (e.g. AASIST-L_robust); the rest are `--set`s."""
    label, sep, rest = text.partition("=")
    if not sep or not label.strip():
        raise ValueError(f"--epoch-variant {text!r}: write LABEL=KEY=VALUE[;KEY=VALUE...]")
    if label.strip() in ("ours", "official"):
        raise ValueError(f"--epoch-variant {text!r}: 'ours' and 'official' name the two baselines; "
                         f"pick another label")
    config, overrides = None, []
    for item in filter(None, (part.strip() for part in rest.split(";"))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--epoch-variant {text!r}: {item!r} is not KEY=VALUE")
        if key.strip() == "config":
            config = value.strip()
            if not (ROOT / "config" / f"{config}.conf").is_file():
                raise ValueError(f"--epoch-variant {text!r}: config/{config}.conf not found; "
                                 f"name a file of config/ without .conf")
        else:
            overrides.append(item)
    return label.strip(), config, overrides


def bench_epoch(args, tmp: Path) -> list[dict]:
    """Seconds per training epoch and per dev scoring pass: ours as configured, each
    --epoch-variant of ours, and the official loop, each in a fresh subprocess."""
    root = write_la_like(tmp / "epoch" / "LA", args.epoch_clips, args.epoch_dev_clips)
    device = args.devices[-1]  # the GPU when there is one
    rows = []
    for model in args.models:
        runs = [("ours", model, [])] + [(label, config or model, overrides)
                                         for label, config, overrides in args.epoch_variants]
        runs += [("official", model, [])] if args.official_dir else []
        for cpu_isa in (args.cpu_isa if device == "cpu" else ["default"]):
            out = {}
            for label, config, overrides in runs:
                spec = dict(section="epoch", impl="official" if label == "official" else "ours",
                            model=model, config=config, overrides=overrides, device=device,
                            root=str(root), batch=args.epoch_batch, cpu_isa=cpu_isa,
                            official_dir=str(args.official_dir or ""))
                out[label] = dict(_run_worker(spec), config=config, overrides=";".join(overrides))
                print(f"epoch {model} {label}: train {out[label]['train_s']:.1f} s, "
                      f"scoring {out[label]['score_s']:.1f} s", file=sys.stderr, flush=True)
            for label, r in out.items():
                per_clip = r["train_s"] / args.epoch_clips
                dev_per_clip = r["score_s"] / args.epoch_dev_clips
                la_epoch_s = per_clip * LA_TRAIN_CLIPS + dev_per_clip * LA_DEV_CLIPS
                official = out.get("official")
                rows.append(dict(section="epoch", device=device, cpu_isa=cpu_isa, model=model,
                                 impl=label, config=r["config"], overrides=r["overrides"],
                                 clips=args.epoch_clips, dev_clips=args.epoch_dev_clips,
                                 batch=args.epoch_batch, train_s=r["train_s"], score_s=r["score_s"],
                                 train_clips_per_s=args.epoch_clips / r["train_s"],
                                 dev_clips_per_s=args.epoch_dev_clips / r["score_s"],
                                 la_epoch_min=la_epoch_s / 60, recipe_100_epochs_h=100 * la_epoch_s / 3600,
                                 speedup_vs_official=(official["train_s"] + official["score_s"])
                                 / (r["train_s"] + r["score_s"]) if official else None,
                                 peak_rss_mb=r["peak_rss_mb"], gpu_peak_mb=r.get("gpu_peak_mb"),
                                 layout=r.get("layout")))
    return rows


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
        rows += _bench_batch_stage(args, aug, clips, batch, label)
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
    import aasist
    from aasist.augment import Augmenter

    aug = Augmenter(aasist.load_config(ROOT / "config" / "AASIST-L_robust.conf")["augment"])
    rng = np.random.default_rng(0)
    n = 4 * args.augment_clips   # probabilities < 1: average over more clips
    stack = np.resize(clips, (n, clips.shape[1]))
    label = "recipe AASIST-L_robust"
    rows = [dict(section="augment", transform=f"{label}: per-clip stage", where="cpu, per clip",
                 clips_per_s=_time_clips(lambda: [aug.clip(c, rng) for c in stack], n, args.rounds))]
    return rows + _bench_batch_stage(args, aug, clips, batch, f"{label}: batch stage")


def _bench_batch_stage(args, aug, clips, batch: int, label: str) -> list[dict]:
    """Clips/s of ``aug``'s batch stage on a (batch, samples) tensor, on each device."""
    import torch

    rows = []
    for device in args.devices:
        x = torch.from_numpy(clips).to(device)
        gen = torch.Generator(device=device).manual_seed(0)
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        rows.append(dict(section="augment", transform=label, where=f"{device}, batch of {batch}",
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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--sections", default="model,data,eval,predict,stream")
    parser.add_argument("--official-dir", type=Path, help="a checkout of github.com/clovaai/aasist")
    parser.add_argument("--weights-dir", type=Path, default=ROOT / "aasist" / "pretrained",
                        help="folder with AASIST.pth / AASIST-L.pth (logit comparison)")
    parser.add_argument("--models", default="AASIST-L,AASIST")
    parser.add_argument("--devices", default=None, help="default: cpu, plus cuda when available")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model-batch", type=int, default=8)
    parser.add_argument("--ours-untuned", action="store_true", help="also time ours with AASIST_MALLOC_TUNING=0")
    parser.add_argument("--data-items", type=int, default=480)
    parser.add_argument("--data-batch", type=int, default=24)
    parser.add_argument("--eval-items", type=int, default=96)
    parser.add_argument("--predict-files", type=int, default=32)
    parser.add_argument("--predict-seconds", type=float, default=4.0)
    parser.add_argument("--stream-seconds", type=float, default=30.0)
    parser.add_argument("--cpu-isa", default="default",
                        help="comma list of default,avx2: the CPU as it is, and held to AVX2")
    parser.add_argument("--epoch-clips", type=int, default=96, help="training clips (LA: 25,380)")
    parser.add_argument("--epoch-dev-clips", type=int, default=96, help="dev clips (LA: 24,844)")
    parser.add_argument("--epoch-batch", type=int, default=24)
    parser.add_argument("--epoch-variant", action="append", default=[], metavar="LABEL=KEY=VALUE;...",
                        help="also time ours with these config overrides (repeatable), e.g. "
                             "'bf16=amp=true' or 'robust=config=AASIST-L_robust'")
    parser.add_argument("--augment-clips", type=int, default=24, help="clips timed per clip (augment)")
    parser.add_argument("--rawboost-dir", type=Path, help="a checkout of TakHemlata/RawBoost-antispoofing")
    parser.add_argument("--rawboost-python", default=sys.executable,
                        help="python with numpy < 2 to run the authors' RawBoost (default: this one)")
    parser.add_argument("--smoke", action="store_true",
                        help="a tiny run that checks the script works (numbers mean nothing)")
    parser.add_argument("--json", type=Path, help="also write all rows as JSON")
    args = parser.parse_args(argv)
    args.mini_sizes = None  # make_mini's default corpus
    if args.smoke:
        args.models, args.rounds, args.warmup, args.repeats = "AASIST-L", 1, 0, 1
        args.model_batch, args.data_items, args.data_batch, args.eval_items = 1, 8, 4, 2
        args.predict_files, args.predict_seconds, args.stream_seconds = 3, 1.0, 1.5
        args.mini_sizes = {"train": (2, 4), "dev": (2, 2), "eval": (2, 2)}
        args.epoch_clips, args.epoch_dev_clips, args.epoch_batch = 4, 2, 2
        args.augment_clips = 2
    try:
        args.epoch_variants = [parse_variant(v) for v in args.epoch_variant]
    except ValueError as exc:
        parser.error(str(exc))
    args.models = args.models.split(",")
    args.sections = args.sections.split(",")
    args.cpu_isa = args.cpu_isa.split(",")
    unknown = set(args.cpu_isa) - set(ISA_ENV)
    if unknown:
        parser.error(f"--cpu-isa takes {', '.join(ISA_ENV)}, got {', '.join(sorted(unknown))}")
    return args


def run(args: argparse.Namespace) -> list[dict]:
    """Run the chosen sections, printing a table per section; returns all rows."""
    import torch

    args.devices = (args.devices.split(",") if args.devices
                    else ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    if args.official_dir and not (args.official_dir / "models" / "AASIST.py").is_file():
        sys.exit(f"error: {args.official_dir}/models/AASIST.py not found; pass a clovaai/aasist checkout")
    weights_dir = args.weights_dir if args.weights_dir and args.weights_dir.is_dir() else None
    sections = args.sections
    rows: list[dict] = []
    if "model" in sections:
        model_rows = bench_model(args, weights_dir)
        rows += model_rows
        print(f"\n## model (seconds per batch of {args.model_batch} x 64600 samples; medians)\n")
        print(_table(model_rows, ["device", "cpu_isa", "model", "mode", "amp", "impl", "median_s",
                                  "clips_per_s", "x_realtime", "speedup_vs_official",
                                  "max_abs_logit_diff_vs_ours", "peak_rss_mb", "layout", "n"]))
    if "roofline" in sections:
        roof_rows = bench_roofline(args)
        rows += roof_rows
        print(f"\n## roofline (batch {args.model_batch} x 64600 samples; fp32; GFLOP counted by "
              f"torch.utils.flop_counter, GEMM = torch.mm 2048 x 2048 at the same threads)\n")
        print(_table(roof_rows, ["cpu_isa", "model", "threads", "isa", "gflop_per_window",
                                 "gflop_per_audio_s", "gemm_gflops", "eval_gflops",
                                 "eval_fraction_of_gemm", "train_gflops", "train_fraction_of_gemm"]))
    with tempfile.TemporaryDirectory() as tmp:
        corpus = None
        if {"data", "eval"} & set(sections):
            corpus = _mini_corpus(Path(tmp), args.mini_sizes)
        if "data" in sections:
            data_rows = bench_data(args, corpus)
            rows += data_rows
            print(f"\n## data pipeline (training items of 64600 samples per second, batches of "
                  f"{args.data_batch}; mini corpus)\n")
            print(_table(data_rows, ["impl", "num_workers", "items_per_s", "speedup_vs_flac"]))
        if "eval" in sections:
            eval_rows = bench_eval(args, corpus)
            rows += eval_rows
            print("\n## evaluation (dev split of the mini corpus, cache, batch 8)\n")
            print(_table(eval_rows, ["model", "device", "clips", "clips_per_s", "x_realtime"]))
        if "predict" in sections:
            predict_rows = bench_predict(args, Path(tmp))
            rows += predict_rows
            print(f"\n## predict (bundled AASIST-L, {args.predict_seconds:g} s files)\n")
            print(_table(predict_rows, list(predict_rows[0])))
        if "epoch" in sections:
            epoch_rows = bench_epoch(args, Path(tmp))
            rows += epoch_rows
            print(f"\n## epoch ({args.epoch_clips} training + {args.epoch_dev_clips} dev clips, "
                  f"LA durations, batch {args.epoch_batch}; la_epoch_min and recipe_100_epochs_h "
                  f"project to full ASVspoof 2019 LA)\n")
            print(_table(epoch_rows, ["device", "cpu_isa", "model", "impl", "config", "overrides",
                                      "train_clips_per_s", "dev_clips_per_s", "speedup_vs_official",
                                      "la_epoch_min", "recipe_100_epochs_h", "peak_rss_mb",
                                      "gpu_peak_mb", "layout"]))
    if "stream" in sections:
        stream_rows = bench_stream(args)
        rows += stream_rows
        print(f"\n## stream (bundled AASIST-L, a {args.stream_seconds:g} s clip replayed in real time)\n")
        print(_table(stream_rows, list(stream_rows[0])))
    if "augment" in sections:
        augment_rows = bench_augment(args)
        rows += augment_rows
        print("\n## augmentation (4.04 s clips; default parameters, p = 1)\n")
        print(_table(augment_rows, ["transform", "where", "clips_per_s", "x_realtime", "kbps"]))
    return rows


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        _worker(json.loads(args.worker))
        return
    import torch

    from aasist import runtime

    machine = {**runtime.cpu_description(), "cores": os.cpu_count(), "torch": torch.__version__,
               "selu_kernel": runtime.kernels_for("cpu").selu,
               "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
               "load_avg_1min": os.getloadavg()[0]}
    print(f"machine: {machine}")
    # the in-process sections (data, eval, predict, stream) run as the `aasist` command does:
    # with its process settings (allocator tuning); the model workers apply their own
    runtime.apply(runtime.Settings.from_env())
    rows = run(args)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
