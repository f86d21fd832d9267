"""Export a model to ONNX, to score audio without torch (``aasist export``).

::

    from aasist.export import export_onnx
    result = export_onnx("AASIST-L.onnx", model="AASIST-L")     # a bundled model
    result = export_onnx("mine.onnx", config="AASIST-L", weights="runs/x/weights/swa.pth")

The file
    One input ``waveform``: (batch, samples) float32, 16 kHz mono, the same samples the
    package's models take. One output ``logits``: (batch, 2), column 1 = bona fide (the score
    the official score files hold; higher = more bona fide), column 0 = spoof.

    * The batch axis is dynamic.
    * AASIST / AASIST-L: the length axis is dynamic too; any length of at least the model's
      ``min_samples`` (2,315 samples for the official configs) gives the logits the torch
      model gives for it. RawGAT-ST: exactly its window (64,600 samples): its graph layers
      are sized for it.
    * ``metadata_props`` (onnxruntime: ``session.get_modelmeta().custom_metadata_map``) hold
      what a scorer needs: ``model``, ``architecture``, ``sample_rate``, ``window`` (samples
      the package scores at a time), ``hop`` (between windows of long audio),
      ``min_samples``, ``dynamic_length``, ``weights_sha256``, ``score_polarity``,
      ``llr_offset`` (see :func:`aasist.predict.prior_offset`: an uncalibrated LLR is
      ``logit1 - logit0 - llr_offset``), ``aggregation``, ``aasist_version``,
      ``torch_version``, and for a bundled model ``licence`` and ``source``.

How
    The network is traced by ``torch.export`` (the dynamo exporter of ``torch.onnx``) in eval
    mode without gradients, with the portable kernels (``aasist.nn.Kernels()``: no custom
    autograd Function in the graph). The network code takes export-friendly paths while
    exporting (official max-pool ops; graph pooling's kept-node count computed in float64,
    see :func:`aasist.nn.layers.kept_count`) that give the same numbers as the eager fast
    paths. The file is checked before it is written: onnxruntime and the torch model score the
    same noise (at the window and, for a dynamic length, at the shortest length and an odd
    one) and must agree to float rounding (:data:`CHECK_TOLERANCE`).

Needs the ``export`` extra (``pip install "aasist[export]"``: onnx, onnxscript,
onnxruntime); without it, :func:`export_onnx` raises a ConfigError saying so.
"""
from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Optional, Union

import numpy as np
import torch

from . import __version__
from .data.audio import SAMPLE_RATE
from .errors import AasistError, ConfigError, DataError
from .fileio import atomic_write
from .inference import hop_samples, scoring_window
from .nn import Kernels
from .predict import prior_offset
from .pretrained import BUNDLES, load_model, model_name, resolve, resolve_config, sha256_of

PathLike = Union[str, "os.PathLike[str]"]

FORMATS = ("onnx",)
#: Architectures whose graph takes one length only (their window).
FIXED_LENGTH = frozenset({"RawGAT-ST"})
#: Largest |logit difference| between onnxruntime and torch that the check accepts.
CHECK_TOLERANCE = 1e-3
INPUT_NAME, OUTPUT_NAME = "waveform", "logits"
SCORE_POLARITY = "column 1 = bona fide; higher = more bona fide"
AGGREGATION = ("audio longer than the window: windows of `window` samples every `hop` samples, "
               "the last aligned to the end; the file gets its least bona fide window "
               "(smallest logit1 - logit0). Shorter audio: repeat-padded to the window")
#: The packages the export needs, by import name -> pip name.
_NEEDED = {"onnx": "onnx", "onnxscript": "onnxscript", "onnxruntime": "onnxruntime"}


class ExportError(AasistError):
    """The exported graph does not reproduce the torch model (a bug to report)."""


@dataclass
class ExportResult:
    """What :func:`export_onnx` wrote: the file, its metadata and the check's numbers."""

    path: Path
    metadata: dict[str, str]
    opset: int
    checked: dict[int, float] = field(default_factory=dict)  # length -> max |ORT - torch|

    @property
    def dynamic_length(self) -> bool:
        return self.metadata["dynamic_length"] == "true"


def require_export_packages() -> None:
    """ConfigError naming ``pip install "aasist[export]"`` when onnx, onnxscript or
    onnxruntime is missing."""
    import importlib.util

    missing = [pip for module, pip in _NEEDED.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise ConfigError(f"ONNX export needs {', '.join(missing)}: pip install \"aasist[export]\"")


def check_out_path(out: PathLike) -> Path:
    """``out`` as a Path, or a DataError if no file can be written there (checked before
    the export, which takes a while): a folder, or a path below a file."""
    path = Path(out)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; give the name of the .onnx file to write, "
                        f"e.g. --out {path / 'model.onnx'}")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise DataError(f"{path}: cannot be written, {parent} is a file, not a folder; "
                        f"choose another --out")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"{path}: cannot be written, the folder {parent} is not writable; "
                        f"choose another --out")
    return path


def export_onnx(out: PathLike, config: Optional[PathLike] = None,
                weights: Optional[PathLike] = None, model: Optional[str] = None,
                overrides: Iterable[str] = (), check: bool = True) -> ExportResult:
    """Write the model (a bundled ``model``, or ``config`` + ``weights`` as
    :func:`aasist.pretrained.resolve` finds them) as an ONNX file at ``out``.

    Input ``waveform`` (B, L) float32 at 16 kHz, output ``logits`` (B, 2), column 1 = bona
    fide; B dynamic, L dynamic (>= ``min_samples``) for AASIST, fixed for RawGAT-ST; the
    metadata listed in the module doc. With ``check`` (default), onnxruntime must reproduce
    the torch model's logits (:data:`CHECK_TOLERANCE`) before the file is written
    (ExportError otherwise). Raises ConfigError without the ``export`` extra and DataError
    for an ``out`` that cannot be written.
    """
    require_export_packages()
    path = check_out_path(out)
    overrides = list(overrides)
    run_config, weights_path = resolve_config(config, weights, overrides, model=model)
    name = model_name(resolve(config, weights, model)[1])
    net = load_model(config, weights, device="cpu", overrides=overrides, model=model)
    net.kernels = Kernels()  # portable: F.selu, no custom autograd Function in the graph
    model_config = run_config.model_config
    architecture = str(model_config.get("architecture", "AASIST"))
    window = scoring_window(model_config)
    dynamic = architecture not in FIXED_LENGTH
    min_samples = int(getattr(net, "min_samples", window))
    if dynamic and window < min_samples:
        raise ConfigError(f"the scoring window of {window} samples is shorter than the "
                          f"{min_samples} samples this model needs; raise "
                          f"model_config.eval_nb_samp (or nb_samp)")
    metadata = {
        "model": name,
        "architecture": architecture,
        "sample_rate": str(SAMPLE_RATE),
        "window": str(window),
        "hop": str(hop_samples(None, window)),
        "min_samples": str(min_samples if dynamic else window),
        "dynamic_length": "true" if dynamic else "false",
        "input": f"{INPUT_NAME}: (batch, samples) float32, {SAMPLE_RATE} Hz mono; samples "
                 + (f">= {min_samples}" if dynamic else f"= {window}"),
        "output": f"{OUTPUT_NAME}: (batch, 2) float32; column 0 = spoof, column 1 = bona fide",
        "score_polarity": SCORE_POLARITY,
        "aggregation": AGGREGATION,
        "llr_offset": repr(float(prior_offset(run_config))),
        "weights_sha256": sha256_of(weights_path),
        "aasist_version": __version__,
        "torch_version": torch.__version__,
    }
    bundle = BUNDLES.get(name)
    if bundle is not None:
        metadata.update(licence=bundle.licence, source=bundle.source_url,
                        training_data=bundle.training_data)
    proto = _to_onnx(net, window, min_samples if dynamic else None)
    import onnx  # optional dependency: the export extra

    onnx.helper.set_model_props(proto, metadata)
    proto.doc_string = (f"{name} ({architecture}) exported by aasist {__version__}: "
                        f"{metadata['input']} -> {metadata['output']}")
    data = proto.SerializeToString()
    checked = _check(data, net, window, min_samples if dynamic else None) if check else {}
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
    return ExportResult(path=path, metadata=metadata, opset=int(opset), checked=checked)


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter's own log lines (optional torchvision ops it skips) kept off stderr;
    the logger's level is restored afterwards."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _example(batch: int, length: int) -> torch.Tensor:
    """(batch, length) float32 noise, the same every call."""
    generator = torch.Generator().manual_seed(0)
    return 0.1 * torch.randn(batch, length, generator=generator)


def _to_onnx(net: torch.nn.Module, window: int, min_samples: Optional[int]):
    """The ``onnx.ModelProto`` of ``net``: (batch, window) in, or (batch, samples >=
    ``min_samples``) with ``min_samples`` given; batch and samples named in the file."""
    example = _example(2, window)  # batch 2: a batch of 1 would be taken as a constant
    shapes = {0: torch.export.Dim("batch")}
    if min_samples is not None:
        shapes[1] = torch.export.Dim("samples", min=min_samples)
    with torch.no_grad(), _quiet_exporter():
        # The size guards export adds (node counts > 1 and the like, which decide strides and
        # decompositions, not values) become runtime checks, so the length stays dynamic;
        # the file is checked against torch at the shortest length below.
        program = torch.export.export(net.eval(), (example,), dynamic_shapes={"x": shapes},
                                      strict=False,
                                      prefer_deferred_runtime_asserts_over_guards=True)
        onnx_program = torch.onnx.export(program, (example,), dynamo=True, verbose=False,
                                         input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                         optimize=True)
    proto = onnx_program.model_proto
    _name_dims(proto, window if min_samples is None else None)
    return proto


def _name_dims(proto, window: Optional[int]) -> None:
    """Name the symbolic axes of the input and output ``batch`` and ``samples`` (the
    exporter calls them after its symbols) throughout the graph."""
    waveform = proto.graph.input[0].type.tensor_type.shape.dim
    names = {waveform[0].dim_param: "batch"}
    if window is None:
        names[waveform[1].dim_param] = "samples"
    values = [*proto.graph.input, *proto.graph.output, *proto.graph.value_info]
    for value in values:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in names:
                dim.dim_param = names[dim.dim_param]


def _check(data: bytes, net: torch.nn.Module, window: int,
           min_samples: Optional[int]) -> dict[int, float]:
    """Max |logit difference| between onnxruntime and ``net`` per checked length; an
    ExportError beyond :data:`CHECK_TOLERANCE`."""
    import onnxruntime  # optional dependency: the export extra

    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    lengths = [window]
    if min_samples is not None:
        # the shortest input, and a length that is no multiple of the 3x poolings
        lengths += sorted({min_samples, max(min_samples, window * 3 // 4 + 1)} - {window})
    diffs = {}
    for length in lengths:
        x = _example(2, length)
        with torch.inference_mode():
            expected = net(x).numpy()
        got = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
        diff = float(np.abs(got - expected).max()) if got.shape == expected.shape else np.inf
        diffs[length] = diff
        if not diff <= CHECK_TOLERANCE:
            raise ExportError(f"the exported graph gives logits {diff:.3g} away from the torch "
                              f"model's at {length} samples (shape {got.shape}); the file was "
                              f"not written. Please report this with your torch and onnxscript "
                              f"versions")
    return diffs


def read_metadata(path: PathLike) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file (``aasist export``'s: see the module doc)."""
    require_export_packages()
    import onnx  # optional dependency: the export extra

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such ONNX file; write one with `aasist export`")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise DataError(f"{path}: not a readable ONNX file ({exc.__class__.__name__})") from exc
    return {p.key: p.value for p in proto.metadata_props}


__all__ = ["CHECK_TOLERANCE", "ExportError", "ExportResult", "FORMATS", "check_out_path",
           "export_onnx", "read_metadata", "require_export_packages"]
