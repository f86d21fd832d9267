"""onnxruntime (and torch.compile) against our eager model: one forward pass of a batch of
windows, on the CPU.

    python -m experiments.export_speed [--model AASIST-L] [--batch 8] [--samples 64600]
                                       [--runs 5] [--onnx FILE] [--compile] [--json OUT]

"eager" is ``aasist.get_model(NAME)`` (the kernels :func:`aasist.runtime.kernels_for` picks
for this CPU) under ``torch.inference_mode`` after ``aasist.runtime.apply(Settings())``, the
process settings the command line applies (allocator tuning included). "onnxruntime" is the
file ``aasist export`` writes (exported here to a temporary folder unless --onnx names one),
in an ``InferenceSession`` with its default options (CPU provider, as many intra-op threads as
physical cores). Both score the same noise; each gets one warm-up pass, then the median of
--runs passes is reported (the two take turns, so other load on the machine weighs on both
alike; the 1-minute load average before and after is reported), with the largest logit
difference between the two. ``--compile`` adds a third: ``torch.compile`` of the eager model
(default inductor backend, static shapes; it needs a C++ compiler), with its compile time.
Prints a Markdown table (docs/export.md) and, with --json,
writes the numbers.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _alternating_medians(runs: int, **passes) -> dict[str, float]:
    """Median seconds of each pass; the passes take turns (one warm-up each first), so a
    neighbour's load on the machine weighs on all of them alike."""
    for run in passes.values():
        run()  # warm-up: allocations, kernel choices
    times: dict[str, list[float]] = {name: [] for name in passes}
    for _ in range(runs):
        for name, run in passes.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _load() -> float:
    """The 1-minute load average (0 where the OS does not say)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def measure(model: str, batch: int, samples: int, runs: int, onnx_path: Path | None = None,
            compile: bool = False) -> dict:
    """Median seconds per forward pass of ``batch`` x ``samples`` for eager torch and
    onnxruntime (and torch.compile), and what they ran on."""
    import onnxruntime  # optional dependency: the export extra
    import torch

    import aasist
    from aasist import runtime
    from aasist.export import export_onnx

    settings = runtime.apply(runtime.Settings())
    with tempfile.TemporaryDirectory() as tmp:
        path = onnx_path or export_onnx(Path(tmp) / f"{model}.onnx", model=model).path
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        net = aasist.get_model(model)
        x = (0.1 * torch.randn(batch, samples, generator=torch.Generator().manual_seed(0)))
        feed = {"waveform": x.numpy()}

        def eager():
            with torch.inference_mode():
                return net(x).numpy()

        def ort():
            return session.run(["logits"], feed)[0]

        diff = float(np.abs(eager() - ort()).max())
        passes = {"eager": eager, "onnxruntime": ort}
        compiled = {}
        if compile:
            graph = torch.compile(net, dynamic=False)

            def compiled_pass():
                with torch.inference_mode():
                    return graph(x).numpy()

            expected = eager()
            start = time.perf_counter()
            first = compiled_pass()  # compiles
            compiled["compile_first_pass_s"] = time.perf_counter() - start
            compiled["compile_diff"] = float(np.abs(expected - first).max())
            passes["compile"] = compiled_pass
        load_before = _load()
        medians = _alternating_medians(runs, **passes)
        load_after = _load()
    audio_s = batch * samples / 16000
    return {
        "date": datetime.date.today().isoformat(), "model": model, "batch": batch,
        "samples": samples, "runs": runs, **runtime.cpu_description(),
        "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
        "kernels": str(net.kernels), "settings": str(settings),
        "eager_s": medians["eager"], "onnxruntime_s": medians["onnxruntime"],
        "audio_s": audio_s, "load_before": load_before, "load_after": load_after,
        "max_abs_logit_diff": diff,
        **({"compile_s": medians["compile"], **compiled} if compile else {}),
    }


def table(r: dict) -> str:
    """The Markdown table of :func:`measure`'s result."""
    rows = [("eager torch (`aasist.get_model`)", r["eager_s"]),
            ("onnxruntime (`aasist export` file)", r["onnxruntime_s"])]
    if "compile_s" in r:
        rows.append(("`torch.compile` of the eager model", r["compile_s"]))
    lines = [f"{r['model']}, batch {r['batch']} x {r['samples']:,} samples, median of "
             f"{r['runs']} runs; {r['date']}, {r['cpu']} ({r['threads']} threads, "
             f"{r['cpu_flags']}), torch {r['torch']}, onnxruntime {r['onnxruntime']}; "
             f"`{r['command']}`", "",
             "| runtime | s per batch | windows/s | x real time | vs eager |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for name, seconds in rows:
        lines.append(f"| {name} | {seconds:.3f} | {r['batch'] / seconds:.2f} | "
                     f"{r['audio_s'] / seconds:.1f} | {r['eager_s'] / seconds:.2f}x |")
    lines.append("")
    lines.append(f"Largest logit difference between the two: {r['max_abs_logit_diff']:.1e}; "
                 f"1-minute load average {r['load_before']:.2f} before, {r['load_after']:.2f} after.")
    if "compile_s" in r:
        lines.append(f"torch.compile: first pass (compiling) {r['compile_first_pass_s']:.0f} s, "
                     f"largest logit difference from eager {r['compile_diff']:.1e}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="AASIST-L")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--samples", type=int, default=64600)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--onnx", type=Path, default=None,
                        help="an exported file of --model (default: export one now)")
    parser.add_argument("--compile", action="store_true",
                        help="also time torch.compile of the eager model (needs a C++ compiler)")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    result = measure(args.model, args.batch, args.samples, args.runs, args.onnx, args.compile)
    given = sys.argv[1:] if argv is None else argv
    result["command"] = " ".join(["python -m experiments.export_speed", *given])
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
