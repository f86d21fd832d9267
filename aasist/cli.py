"""`aasist <command>` (or `python -m aasist <command>`): thin wrappers over library functions.

At start-up the command line applies the process settings of :mod:`aasist.runtime` from the
environment (allocator tuning, forced kernels); importing the package does none of that.
Every command turns the package's own errors (bad input, raised as `AasistError`) and a
full or read-only disk into one line on stderr and a non-zero exit code; anything else is
a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import sys
from pathlib import Path
from typing import Callable

from .data.corpora import CORPORA as CORPUS_NAMES, SUBSETS
from . import __version__
from .errors import AasistError, ConfigError

# OS errors that describe the user's machine (permissions, a full or read-only disk), not a bug.
ENVIRONMENT_ERRNOS = {errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EROFS, errno.EDQUOT,
                      errno.EISDIR, errno.ENOTDIR, errno.ENAMETOOLONG}


def run_with_errors(func: Callable[[], int | None]) -> int:
    """Call ``func`` and map expected failures to ``error: <message>`` and exit code 1.

    Ctrl-C exits with 130 and a short note; whatever was already written stays on disk.
    """
    try:
        code = func()
    except KeyboardInterrupt:
        print("interrupted: partial work is kept; run the same command again to continue",
              file=sys.stderr)
        return 130
    except AasistError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        if exc.errno not in ENVIRONMENT_ERRNOS:
            raise
        print(f"error: {exc.filename or ''}: {exc.strerror}; free space, fix the permissions "
              f"or the path, then run the same command again", file=sys.stderr)
        return 1
    return 0 if code is None else int(code)


def _add_config_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--config", required=required,
                        help="a .conf file or a bundled config's name (mini, AASIST-L, AASIST, "
                             "AASIST-L_ep10, ...)" + (
                            "" if required else "; default: the config of --weights"))
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (dotted for nested), e.g. num_epochs=10")


def _add_weights_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", default=None,
                        help="a .pth state_dict (official or ours) or official:NAME, a "
                             "bundled model (default: the bundled official:AASIST-L)")


def _add_model_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, metavar="NAME",
                        help="a bundled model (`aasist models` lists them: AASIST-L, AASIST, "
                             "AASIST-ASVspoof5, RawGAT-ST-mul, ...), its weights and config; "
                             "not with --weights. predict also takes an ensemble, A,B, with its "
                             "fusion as --calibration")


def _add_scorer_args(parser: argparse.ArgumentParser, threshold_help: str = "") -> None:
    """The model and decision options that predict, stream and serve share."""
    _add_config_args(parser, required=False)
    _add_weights_arg(parser)
    _add_model_arg(parser)
    parser.add_argument("--calibration", default=None, metavar="CAL.json",
                        help="map scores to LLRs with this calibration (`aasist calibrate fit`); "
                             "default: uncalibrated (the logit difference)")
    parser.add_argument("--prior", type=float, default=0.5,
                        help="prior of spoofed audio behind p_spoof (default 0.5)")
    parser.add_argument("--target-fpr", type=float, default=None, metavar="RATE",
                        help="label at the LLR that accepts this fraction of the calibration "
                             "data's spoofs (default: the Bayes threshold of the ASVspoof 5 "
                             "costs, Cmiss 1, Cfa 10, Pspoof 0.05)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="instead: label bona fide when score >= T" + threshold_help)
    parser.add_argument("--no-vad", dest="vad", action="store_false",
                        help="judge every window, speech or not (default: windows without "
                             "speech are left out of the verdict)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")


def _detector(args, ensemble: bool = False, **options):
    """The Detector that predict, stream and serve build from their shared options; with
    ``ensemble`` (predict), ``--model A,B`` builds an Ensemble."""
    from .calibrate import Calibration, Decision
    from .predict import Detector, Ensemble

    calibration = Calibration.load(args.calibration) if args.calibration else None
    threshold = None
    if args.target_fpr is not None:
        if calibration is None:
            raise ConfigError("--target-fpr reads its threshold from a calibration: pass "
                              "--calibration CAL.json")
        threshold = calibration.threshold_at_fpr(args.target_fpr)
    decision = Decision(prior=args.prior, threshold=threshold)
    if args.model and "," in args.model:
        if not ensemble:
            raise ConfigError(f"--model {args.model}: an ensemble of models is for `aasist "
                              f"predict` and the Python API; here give one model")
        if args.config or args.weights or args.overrides or args.threshold is not None:
            raise ConfigError("an ensemble (--model A,B) takes bundled models and a fusion: "
                              "not --config, --weights, --set or --threshold (use --target-fpr)")
        return Ensemble(args.model.split(","), calibration, vad=args.vad, device=args.device,
                        decision=decision, **options)
    return Detector(args.config, args.weights, device=args.device, threshold=args.threshold,
                    overrides=args.overrides, model=args.model, calibration=calibration,
                    decision=decision, vad=args.vad, **options)


def _cmd_train(args) -> int:
    from .config import load_config
    from .train import train

    config = load_config(args.config, args.overrides)
    result = train(config, out_dir=args.out, resume=args.resume, device=args.device,
                   config_name=Path(args.config).stem)
    print(f"run directory: {result['run_dir']}")
    return 0


def _cmd_evaluate(args) -> int:
    from .evaluate import evaluate_weights
    from .pretrained import resolve_config

    given = {"corpus": args.corpus, "database_path": args.root}
    overrides = [*args.overrides, *(f"{k}={json.dumps(v)}" for k, v in given.items() if v is not None)]
    config, weights = resolve_config(args.config, args.weights, overrides, args.model)
    report = evaluate_weights(config, weights, split=args.split,
                              out_dir=args.out, device=args.device, amp=args.amp,
                              subset=args.subset)
    print(report["text"])
    return 0


def _cmd_metrics(args) -> int:
    from .data.corpora import format_report, metrics_from_files
    from .fileio import atomic_write

    report = metrics_from_files(args.corpus, args.scores, args.keys, subset=args.subset,
                                asv_scores=args.asv_scores)
    print(format_report(report))
    if args.json:
        with atomic_write(args.json) as fh:
            fh.write(json.dumps(report, indent=2) + "\n")
    return 0


def _cmd_predict(args) -> int:
    from .predict import ResultWriter, predict_paths

    detector = _detector(args, ensemble=True, hop_seconds=args.hop, aggregate=args.aggregate)
    writer = ResultWriter(args.format, sys.stdout, timeline=args.timeline)
    failed = 0
    for result in predict_paths(detector, args.paths, timeline=args.timeline,
                                progress=not args.quiet, num_workers=args.workers):
        writer.write(result)
        failed += "error" in result
    sys.stdout.flush()
    if failed:
        print(f"error: {failed} file(s) could not be scored (see their 'error' field)", file=sys.stderr)
    return 1 if failed else 0


def _cmd_stream(args) -> int:
    from .stream import StreamScorer, file_source, microphone, pcm_feed

    detector = _detector(args)
    scorer = StreamScorer(detector, hop_seconds=args.hop)
    detector.warm_up()  # before input starts arriving: the first window's latency is real
    if args.mic:
        try:
            with microphone(args.rate, args.channels) as feed:
                _print_stream(scorer, feed)
        except KeyboardInterrupt:  # the way to stop recording
            pass
        return 0
    if args.input == "-":
        source = pcm_feed(sys.stdin.buffer, args.format, args.rate, args.channels)
    else:
        source = file_source(args.input, args.format, args.rate, args.channels)
    _print_stream(scorer, source)
    return 0


def _print_stream(scorer, source) -> None:
    """One JSON line per scored window on stdout; skipped windows noted on stderr."""
    reported = 0
    for line in scorer.run(source):
        print(json.dumps(line), flush=True)
        if scorer.skipped > reported:
            print(f"stream: behind the input, skipped {scorer.skipped - reported} window(s) "
                  f"before {line['end_s']:.2f} s ({scorer.skipped} so far); a longer --hop "
                  f"or a faster machine keeps up", file=sys.stderr, flush=True)
            reported = scorer.skipped


def _cmd_serve(args) -> int:
    import os

    from .pretrained import DEFAULT, PREFIX
    from .serve import TOKEN_ENV, Limits, check_exposure, create_app, run_server

    token = args.token or os.environ.get(TOKEN_ENV) or None
    check_exposure(args.host, token)  # before the model loads: a one-line refusal
    limits = Limits(max_upload_mb=args.max_upload_mb, max_duration_s=args.max_duration,
                    queue=args.queue, max_streams=args.max_streams,
                    score_timeout_s=args.score_timeout, read_timeout_s=args.read_timeout,
                    body_timeout_s=args.body_timeout)
    # one window per forward pass on a CPU: a batch of 8 official windows holds ~1 GB of
    # activations and is no faster there (docs/serve.md)
    batch = args.batch if args.batch is not None else (1 if args.device == "cpu" else None)
    detector = _detector(args, batch_size=batch)
    detector.warm_up()
    shown = PREFIX + args.model.removeprefix(PREFIX) if args.model else None
    app = create_app(detector, model_name=shown or args.weights or args.config or PREFIX + DEFAULT,
                     hop_seconds=args.hop, limits=limits, token=token)
    try:  # SIGTERM: returns once in-flight requests are answered (a few seconds at most)
        run_server(app, args.host, args.port, max_connections=args.max_connections,
                   on_ready=lambda url: print(f"serving on {url} (Ctrl-C stops)", flush=True))
    except KeyboardInterrupt:  # the way to stop the server; uvicorn has shut down cleanly
        pass
    return 0


def _cmd_models(args) -> int:
    from .pretrained import BUNDLES

    rows = [b.to_dict() for b in BUNDLES.values()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    columns = [("name", "name"), ("architecture", "architecture"), ("training data", "training_data"),
               ("parameters", "parameters"), ("published result", "published"), ("licence", "licence")]
    cells = [[f"{r[key]:,}" if key == "parameters" else str(r[key]) for _, key in columns]
             for r in rows]
    widths = [max(len(title), *(len(c[i]) for c in cells)) for i, (title, _) in enumerate(columns)]
    for line in ([title for title, _ in columns], ["-" * w for w in widths], *cells):
        print("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())
    print("\nselect one with --model NAME (predict, evaluate, stream, serve); sources and "
          "licences: docs/models.md")
    return 0


def _cmd_export(args) -> int:
    from .export import export_onnx

    result = export_onnx(args.out, config=args.config, weights=args.weights, model=args.model,
                         overrides=args.overrides, check=args.check)
    meta = result.metadata
    length = (f"samples >= {meta['min_samples']}" if result.dynamic_length
              else f"{meta['window']} samples")
    checked = ", ".join(f"{n:,} samples {d:.1e}" for n, d in result.checked.items())
    print(f"{result.path}: {meta['model']} ({meta['architecture']}), ONNX opset {result.opset}; "
          f"input waveform (batch, {length}) float32 at {meta['sample_rate']} Hz, output "
          f"logits (batch, 2), {meta['score_polarity']}"
          + (f"; onnxruntime vs torch, max |diff|: {checked}" if checked else ""))
    return 0


def _add_export_parser(sub) -> None:
    """`export`: a model as an ONNX file that onnxruntime scores without torch."""
    p = sub.add_parser("export", help="write a model as an ONNX file (dynamic batch and, for "
                                      "AASIST, length; metadata inside) for onnxruntime")
    _add_config_args(p, required=False)
    _add_weights_arg(p)
    _add_model_arg(p)
    p.add_argument("--format", choices=["onnx"], default="onnx", help="file format (onnx)")
    p.add_argument("--out", required=True, metavar="FILE", help="the file to write, e.g. "
                                                                "AASIST-L.onnx")
    p.add_argument("--no-check", dest="check", action="store_false",
                   help="skip the check that onnxruntime reproduces the torch model's logits")
    p.set_defaults(func=_cmd_export)


def _cmd_make_mini(args) -> int:
    from .data.corpora import DEFAULT, get_corpus
    from .data.mini import make_mini

    if args.corpus == DEFAULT:  # the demo corpus itself, at its full size
        root = make_mini(args.dest, seed=args.seed)
    else:
        root = get_corpus(args.corpus).make_mini(args.dest, seed=args.seed)
    print(f"mini corpus ready at {root}")
    return 0


def _cmd_download(args) -> int:
    from . import download
    from .data.corpora import get_corpus

    progress = not args.no_progress
    if args.pretrained:
        paths = download.download_pretrained(args.dest or "weights", args.names,
                                             base_url=args.base_url, progress=progress)
        for name, path in paths.items():
            print(f"{name}: {path}")
        return 0
    corpus = get_corpus(args.corpus)
    dest = args.dest or "."
    one_zip = [f"--{k.replace('_path', '').replace('_', '-')}" for k in _ONE_ZIP_ONLY
               if getattr(args, k)]
    if one_zip and not corpus.archive_top:
        raise ConfigError(f"{', '.join(one_zip)} apply to corpora that come as one zip "
                          f"(la2019), not to {corpus.name}")
    if one_zip:
        root = download.prepare_zip_corpus(
            corpus, dest, url=args.url, zip_path=args.zip_path, sha256=args.sha256,
            force=args.force, remove_archive=args.remove_archive,
            expected_counts="official" if args.official else "auto", progress=progress)
    else:
        root = download.prepare_corpus(corpus, dest, mirror=args.mirror,
                                       archive_dir=args.archive_dir, force=args.force,
                                       remove_archives=args.remove_archive, progress=progress)
    marker = json.loads((root / download.COMPLETE_MARKER).read_text())
    print(f"{root.name} ready at {root}")
    for name, record in (marker.get("archives") or {}).items():
        print(f"  {name}: {record['size']:,} bytes, sha256 {record['sha256']}")
    return 0


def _cmd_calibrate_fit(args) -> int:
    from . import calibrate

    if bool(args.scores) == bool(args.audio):
        raise ConfigError("give score files (SCORES ...) or --audio LABELS.csv, not both or neither")
    if args.scores:
        if args.model or args.config or args.weights:
            raise ConfigError("--model/--config/--weights score audio: use them with --audio")
        systems = args.systems.split(",") if args.systems else None
        if systems and len(systems) != len(args.scores):
            raise ConfigError(f"--systems names {len(systems)} system(s) for "
                              f"{len(args.scores)} score file(s); give one name per file")
        cal = calibrate.fit_score_files(args.scores, spoof_prior=args.prior, systems=systems)
    else:
        from .predict import calibrate_on_audio

        if args.systems:
            raise ConfigError("--systems names score files; with --audio the systems are "
                              "the --model names")
        cal = calibrate_on_audio(args.audio, spoof_prior=args.prior, model=args.model,
                                 config=args.config, weights=args.weights, device=args.device,
                                 vad=args.vad)
    cal = dataclasses.replace(cal, name=args.name or Path(args.out).stem)
    cal.save(args.out)
    before = ", ".join(f"{s} {c:.3f}" for s, c in zip(cal.systems, cal.cllr_before))
    print(f"{args.out}: {len(cal.systems)} system(s), {cal.counts['bonafide']} bona fide and "
          f"{cal.counts['spoof']} spoof trials; Cllr {before} -> {cal.cllr_after:.3f} bits "
          f"(min Cllr {cal.min_cllr:.3f}), EER {cal.eer_percent:.2f} %")
    return 0


def _cmd_calibrate_apply(args) -> int:
    from . import calibrate

    cal = calibrate.Calibration.load(args.calibration)
    llr = calibrate.apply_score_files(cal, args.scores, args.out)
    print(f"{args.out}: {len(llr)} trials, score = LLR of {cal.name}")
    return 0


def _add_calibrate_parser(sub) -> None:
    """`calibrate fit|apply`: scores -> log-likelihood ratios; several systems -> fusion."""
    p = sub.add_parser("calibrate", help="fit or apply a calibration (scores -> LLRs) or a "
                                         "fusion of several systems")
    steps = p.add_subparsers(dest="step", required=True, metavar="STEP")
    fit = steps.add_parser("fit", help="fit llr = w . scores + b (prior-weighted logistic "
                                       "regression); several score files: fusion")
    fit.add_argument("scores", nargs="*", metavar="SCORES",
                     help="official 4-column CM score files (utt source key score), joined by "
                          "utterance id")
    fit.add_argument("--audio", metavar="LABELS.csv",
                     help="instead: a CSV of labelled audio (columns path,label with label "
                          "bonafide or spoof), scored first with the model")
    fit.add_argument("--model", default=None,
                     help="with --audio: a bundled model, or several (A,B) to fit their fusion "
                          "for `predict --model A,B`")
    fit.add_argument("--systems", default=None, metavar="A,B",
                     help="with score files: their systems' names, one per file (default: the "
                          "file names); name them after bundled models to use the fusion in "
                          "`predict --model A,B`")
    fit.add_argument("--config", default=None, help="with --audio: a .conf file or bundled name")
    fit.add_argument("--weights", default=None, help="with --audio: the weights")
    fit.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    fit.add_argument("--no-vad", dest="vad", action="store_false",
                     help="with --audio: score every window, speech or not")
    fit.add_argument("--prior", type=float, default=0.5,
                     help="prior of spoofed audio the regression is weighted for (default 0.5, "
                          "as predict's --prior)")
    fit.add_argument("--name", default=None, help="its name in outputs (default: the file name)")
    fit.add_argument("--out", required=True, help="the calibration JSON to write")
    fit.set_defaults(func=_cmd_calibrate_fit)
    apply = steps.add_parser("apply", help="write score files' LLRs (same 4 columns)")
    apply.add_argument("calibration", metavar="CAL.json")
    apply.add_argument("scores", nargs="+", metavar="SCORES",
                       help="the score files, one per system, in the order it was fitted with")
    apply.add_argument("--out", required=True, help="the 4-column score file to write")
    apply.set_defaults(func=_cmd_calibrate_apply)


_ONE_ZIP_ONLY = ("url", "sha256", "zip_path", "official")


def _add_download_parser(sub) -> None:
    """`download`: a corpus (verified, resumable) or the official checkpoints."""
    from .download import PRETRAINED_BASE_URL, PRETRAINED_SHA256

    p = sub.add_parser("download", help="download, verify and extract a corpus, or the "
                                        "official checkpoints (--pretrained)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--corpus", choices=list(CORPUS_NAMES), default="la2019",
                      help="the corpus (default la2019, into DEST/LA/)")
    what.add_argument("--pretrained", action="store_true",
                      help="the official AASIST / AASIST-L checkpoints, SHA-256 verified "
                           "(a copy is bundled already; this fetches the upstream files)")
    p.add_argument("--dest", default=None,
                   help="folder to put the corpus (default .) or the checkpoints "
                        "(default weights/) in")
    p.add_argument("--archive-dir", default=None,
                   help="where the archives are downloaded to, or already are (default: --dest)")
    p.add_argument("--mirror", default=None,
                   help="a URL folder serving the archives under their own names, used "
                        "instead of the official URLs")
    p.add_argument("--force", action="store_true",
                   help="extract and verify again even if the corpus is marked complete")
    p.add_argument("--remove-archive", "--remove-archives", dest="remove_archive",
                   action="store_true", help="delete each archive once it is checked and extracted")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    one = p.add_argument_group("corpora that come as one zip (la2019)")
    one.add_argument("--url", default=None, help="where to download the zip from "
                                                  "(default: the official address)")
    one.add_argument("--sha256", default=None, help="expected SHA-256 of the zip")
    one.add_argument("--zip", dest="zip_path", default=None,
                     help="use this existing zip (e.g. LA.zip) instead of downloading")
    one.add_argument("--official", action="store_true",
                     help="also require the official utterance counts (automatic when "
                          "downloading from the official URL)")
    pre = p.add_argument_group("--pretrained")
    pre.add_argument("--names", nargs="+", default=list(PRETRAINED_SHA256),
                     choices=list(PRETRAINED_SHA256), help="which checkpoints (default: all)")
    pre.add_argument("--base-url", default=PRETRAINED_BASE_URL,
                     help="folder URL holding the .pth files (default: clovaai/aasist on GitHub)")
    p.set_defaults(func=_cmd_download)


def _add_evaluate_parser(sub) -> None:
    """`evaluate`: weights on any corpus split, the corpus's official metrics."""
    p = sub.add_parser("evaluate", help="score a corpus split with given weights; official metrics")
    _add_config_args(p, required=False)
    _add_weights_arg(p)
    _add_model_arg(p)
    p.add_argument("--corpus", choices=list(CORPUS_NAMES), default=None,
                   help="the corpus to evaluate on (default: the config's corpus, la2019)")
    p.add_argument("--root", default=None,
                   help="the corpus folder, or the folder the download put it in "
                        "(default: the config's database_path)")
    p.add_argument("--split", choices=["train", "dev", "eval"], default="eval")
    p.add_argument("--subset", choices=list(SUBSETS), default="eval",
                   help="ASVspoof 2021: the subset the metrics are computed on (every trial is scored)")
    p.add_argument("--out", help="output folder (default: runs/evaluate-<weights>-[<corpus>-]<split>)")
    p.add_argument("--device", choices=["cpu", "cuda"], default=None)
    p.add_argument("--amp", action="store_true", help="mixed precision (CUDA only)")
    p.set_defaults(func=_cmd_evaluate)


def _add_metrics_parser(sub) -> None:
    """`metrics`: a corpus's official metrics of a score file."""
    p = sub.add_parser("metrics", help="a corpus's official metrics of a score file")
    p.add_argument("--corpus", choices=list(CORPUS_NAMES), default="la2019")
    p.add_argument("--scores", required=True,
                   help="score file: la2019 'utt_id source key score'; la2021, df2021, itw "
                        "'trial score'; asvspoof5 'filename<TAB>cm-score' with that header")
    p.add_argument("--keys", help="la2021/df2021: trial_metadata.txt or the keys folder; itw: "
                                  "meta.csv; asvspoof5: the 2-column key or the full protocol")
    p.add_argument("--subset", choices=list(SUBSETS), default="eval",
                   help="ASVspoof 2021 subset the metrics are computed on")
    p.add_argument("--asv-scores", help="la2019: the organisers' ASV score file (for the "
                                        "t-DCF); la2021: replaces the one beside the keys")
    p.add_argument("--json", help="also write the report as JSON here")
    p.set_defaults(func=_cmd_metrics)


def _add_predict_parser(sub) -> None:
    p = sub.add_parser("predict", help="score audio files or folders")
    _add_scorer_args(p, "; e.g. eer_threshold from `evaluate --split dev`")
    p.add_argument("--format", choices=["json", "csv"], default="json", help="json = JSON Lines")
    p.add_argument("--timeline", action="store_true", help="also output per-window scores")
    p.add_argument("--hop", type=float, default=None,
                   help="window hop in seconds for long audio (default: half a window)")
    p.add_argument("--aggregate", choices=["min", "mean"], default="min",
                   help="file score from its windows: least bona fide window (default) or mean")
    p.add_argument("--workers", type=int, default=None,
                   help="processes that decode files ahead of the model (default: 0 on CPU, "
                        "up to 4 on CUDA)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders (recursive)")
    p.set_defaults(func=_cmd_predict)


def _add_stream_parser(sub) -> None:
    p = sub.add_parser("stream", help="score live PCM audio (stdin, a file, the microphone)")
    _add_scorer_args(p)
    p.add_argument("--input", default="-",
                   help="- (stdin, the default) or a file replayed in real time: an audio file "
                        "(.wav, .flac, ...) or raw PCM in --format")
    p.add_argument("--mic", action="store_true",
                   help="record from the default microphone (needs: pip install sounddevice)")
    p.add_argument("--format", choices=["s16le", "f32le"], default="s16le",
                   help="raw PCM sample format (default s16le)")
    p.add_argument("--rate", type=int, default=16000, help="input sample rate in Hz")
    p.add_argument("--channels", type=int, default=1, help="interleaved input channels")
    p.add_argument("--hop", type=float, default=0.5, help="seconds between scores (default 0.5)")
    p.set_defaults(func=_cmd_stream)


def _add_serve_parser(sub) -> None:
    p = sub.add_parser("serve", help="a local web page (and JSON API) that scores audio")
    _add_scorer_args(p)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=int, default=8000, help="port (0: any free port)")
    p.add_argument("--max-upload-mb", type=float, default=100,
                   help="largest accepted upload in MB (default 100)")
    p.add_argument("--max-duration", type=float, default=600, metavar="S",
                   help="longest audio accepted, in seconds, read from the file's header before "
                        "decoding; also caps a live stream (default 600)")
    p.add_argument("--queue", type=int, default=8, metavar="N",
                   help="uploads that may wait for the model; more get 503 (default 8)")
    p.add_argument("--max-streams", type=int, default=2, metavar="N",
                   help="live microphone streams at once (default 2)")
    p.add_argument("--score-timeout", type=float, default=300, metavar="S",
                   help="seconds an upload may wait and be scored before it is cancelled "
                        "(default 300)")
    p.add_argument("--read-timeout", type=float, default=15, metavar="S",
                   help="seconds a client may stay silent while sending headers, a body or a "
                        "live stream (default 15)")
    p.add_argument("--body-timeout", type=float, default=120, metavar="S",
                   help="seconds an upload may take to arrive (default 120)")
    p.add_argument("--max-connections", type=int, default=128, metavar="N",
                   help="open HTTP connections; requests on more get 503 (default 128)")
    p.add_argument("--token", default=None,
                   help="require 'Authorization: Bearer TOKEN' on /api/ (the page: "
                        "/?token=TOKEN); default: $AASIST_SERVE_TOKEN; needed for a --host "
                        "other than this computer")
    p.add_argument("--batch", type=int, default=None, metavar="N",
                   help="windows per forward pass of an upload (default: 1 on cpu, 32 on cuda)")
    p.add_argument("--hop", type=float, default=0.5, help="seconds between live scores")
    p.set_defaults(func=_cmd_serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aasist", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"aasist {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a model (official recipe) and evaluate it")
    _add_config_args(p)
    p.add_argument("--out", help="run directory (default: runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from checkpoint.pt")
    p.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda if available")
    p.set_defaults(func=_cmd_train)

    _add_evaluate_parser(sub)
    _add_metrics_parser(sub)

    _add_predict_parser(sub)
    _add_stream_parser(sub)
    _add_serve_parser(sub)

    p = sub.add_parser("models", help="list the bundled pretrained models (name, data, "
                                      "parameters, published result, licence)")
    p.add_argument("--json", action="store_true", help="JSON (one object per model) instead "
                                                       "of a table")
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("make-mini", help="generate the synthetic mini corpus (LA layout)")
    p.add_argument("--dest", default="data/mini", help="folder that will hold LA/")
    p.add_argument("--corpus", choices=list(CORPUS_NAMES), default="la2019",
                   help="write a few utterances in this corpus's layout instead (for trying "
                        "evaluate --corpus offline)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_make_mini)

    _add_download_parser(sub)
    _add_calibrate_parser(sub)
    _add_export_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def run() -> int | None:
        from . import runtime

        runtime.apply(runtime.Settings.from_env())  # allocator tuning, forced kernels
        return args.func(args)

    return run_with_errors(run)
