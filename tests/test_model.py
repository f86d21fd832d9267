"""AASIST model: official checkpoint parity, shapes, lengths, gradients, a training step."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import aasist
from aasist.nn import count_parameters
from conftest import CONFIG_DIR, PARITY, ROOT, loss_before_and_after_steps, official_weights

MODELS = ("AASIST-L", "AASIST")
LAYOUTS = (torch.contiguous_format, torch.channels_last)
FIXTURE = ROOT / "tests" / "data" / "parity_lengths.npz"


def _model(name: str) -> aasist.Model:
    return aasist.build_model(aasist.load_config(CONFIG_DIR / f"{name}.conf")["model_config"])


def _official(name: str) -> aasist.Model:
    model = _model(name)
    aasist.load_weights(model, official_weights(name))
    return model.eval()


@pytest.mark.parametrize("name,expected", [("AASIST-L", 85_306), ("AASIST", 297_866)])
def test_parameter_counts(name, expected):
    assert count_parameters(_model(name)) == expected


@pytest.mark.parametrize("name", MODELS)
def test_state_dict_keys_match_official_checkpoint(name):
    official = torch.load(official_weights(name), map_location="cpu")
    ours = _model(name).state_dict()
    assert list(ours) and set(ours) == set(official)
    assert all(ours[k].shape == official[k].shape for k in ours)


@pytest.mark.parametrize("name", MODELS)
def test_parity_with_official_outputs(name):
    ref = np.load(PARITY)
    model = _official(name)
    with torch.inference_mode():
        hidden, logits = model(torch.from_numpy(ref["input"]), return_hidden=True)
    np.testing.assert_allclose(logits.numpy(), ref[f"{name}/logits"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(hidden.numpy(), ref[f"{name}/hidden"], atol=1e-4, rtol=0)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_parity_at_other_lengths(name):
    """Official outputs at 2315 (shortest), 16000, 48000 and 100000 samples
    (tests/data/parity_lengths.npz, made by python -m scripts.make_parity_reference)."""
    from scripts.make_parity_reference import parity_inputs

    fixture = np.load(FIXTURE)
    reference = np.load(PARITY)["input"]
    model = _official(name)
    for length in fixture["lengths"]:
        with torch.inference_mode():
            hidden, logits = model(torch.from_numpy(parity_inputs(reference, int(length))),
                                   return_hidden=True)
        np.testing.assert_allclose(logits.numpy(), fixture[f"{name}/{length}/logits"], atol=1e-4, rtol=0)
        np.testing.assert_allclose(hidden.numpy(), fixture[f"{name}/{length}/hidden"], atol=1e-4, rtol=0)


def test_shortest_input_and_clear_error_below_it():
    model = _model("AASIST-L").eval()
    assert model.min_samples == 2315
    with torch.inference_mode():
        assert model(torch.randn(2, model.min_samples)).shape == (2, 2)
        with pytest.raises(ValueError, match="at least 2315"):
            model(torch.randn(2, model.min_samples - 1))
        with pytest.raises(ValueError, match="batch, samples"):
            model(torch.randn(model.min_samples))


@pytest.mark.parametrize("length", [2315, 7001, 16000, 16001])
def test_odd_lengths_give_logits_and_embedding(length):
    model = _model("AASIST-L").eval()
    with torch.inference_mode():
        x = torch.randn(3, length)
        hidden, logits = model(x, return_hidden=True)
        again, _ = model(x, return_hidden=True)
        assert torch.equal(model.out_layer(hidden), logits)  # the classifier reads the embedding
    assert logits.shape == (3, 2) and hidden.shape == (3, 5 * 32)
    assert torch.isfinite(logits).all() and torch.equal(hidden, again)  # eval mode: deterministic


def test_gradients_reach_every_parameter_that_matters():
    torch.manual_seed(0)
    model = _model("AASIST-L").train()
    loss = model(torch.randn(4, 16000), freq_aug=True).logsumexp(1).sum()
    loss.backward()
    missing = [n for n, p in model.named_parameters()
               if p.grad is None or not torch.any(p.grad != 0)]
    # bn1 of blocks 2-6 is kept only for checkpoint compatibility: the official block
    # discards its output, so it can have no gradient.
    assert missing and all(".bn1." in n for n in missing), missing


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("padding,kernel", [((1, 1), (2, 3)), ((0, 1), (1, 3))])
def test_one_channel_conv_equals_nn_conv2d(layout, padding, kernel):
    """The stacked-shifts form of the 1-input-channel convolution: values, layout, gradients."""
    from aasist.nn.layers import conv_one_channel as _conv_one_channel

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 8, kernel_size=kernel, padding=padding)
    x = torch.randn(2, 1, 5, 40, requires_grad=True)
    ours = _conv_one_channel(x, conv, layout)
    assert ours.is_contiguous(memory_format=layout)
    ref_x = x.detach().clone().requires_grad_()
    ref = conv(ref_x)
    assert torch.allclose(ours, ref, atol=1e-5)
    grads = torch.autograd.grad(ours.pow(2).sum(), [x, conv.weight, conv.bias])
    ref_grads = torch.autograd.grad(ref.pow(2).sum(), [ref_x, conv.weight, conv.bias])
    for g, r in zip(grads, ref_grads):
        assert torch.allclose(g, r, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_time_max_pool_equals_nn_max_pool2d(layout):
    from aasist.nn.layers import max_pool_time as _max_pool_time

    y = torch.randn(2, 8, 5, 41, generator=torch.Generator().manual_seed(0))
    y[0, :, :, :12] = y[0, :, :, :12].round()  # ties: the gradient goes to the first maximum
    z = y.contiguous(memory_format=layout)
    with torch.no_grad():
        assert torch.equal(_max_pool_time(z), torch.nn.functional.max_pool2d(y, (1, 3)))
    leaf = z.clone().requires_grad_()
    ref = y.clone().requires_grad_()
    _max_pool_time(leaf).pow(2).sum().backward()
    torch.nn.functional.max_pool2d(ref, (1, 3)).pow(2).sum().backward()
    assert torch.equal(leaf.grad, ref.grad)


@pytest.mark.parametrize("bands, length", [(70, 64472), (23, 100), (22, 101)])
def test_stem_pool_equals_max_pool2d_of_abs(bands, length):
    """The 3x3 max-pool of the sinc output's magnitude: the fast path (no gradient needed,
    as in training) gives the official op's values whatever the band and sample counts
    modulo 3; an input that needs a gradient gets the official op and its gradient."""
    from aasist.nn.layers import stem_pool as _stem_pool

    x = torch.randn(2, bands, length, generator=torch.Generator().manual_seed(1))
    ref = x.clone().requires_grad_()
    expected = torch.nn.functional.max_pool2d(ref.abs().unsqueeze(1), (3, 3))
    assert torch.equal(_stem_pool(x.clone()), expected.detach())
    leaf = x.clone().requires_grad_()
    assert torch.equal(_stem_pool(leaf), expected)
    _stem_pool(leaf).pow(2).sum().backward()
    expected.pow(2).sum().backward()
    assert torch.equal(leaf.grad, ref.grad)


@pytest.mark.parametrize("kernel", ["torch", "exp"])
def test_selu_kernels_equal_torch_selu(kernel):
    from aasist.nn.layers import selu_

    x = torch.cat([torch.linspace(-30, 30, 2001), torch.tensor([0.0, -1e-8, 1e-8])])
    leaf = x.clone().requires_grad_()
    y = selu_(leaf * 1, kernel)  # in place on a non-leaf, as the model calls it
    assert torch.allclose(y, torch.nn.functional.selu(x), rtol=1e-6, atol=1e-6)
    (grad,) = torch.autograd.grad(y.sum(), leaf)
    ref = leaf.detach().clone().requires_grad_()
    (ref_grad,) = torch.autograd.grad(torch.nn.functional.selu(ref).sum(), ref)
    assert torch.allclose(grad, ref_grad, rtol=1e-5, atol=1e-6)


@pytest.fixture
def default_settings(monkeypatch):
    """aasist.runtime as a program that imported the package sees it: nothing applied."""
    from aasist import runtime

    monkeypatch.setattr(runtime, "_settings", runtime.Settings(malloc_tuning=False))
    return runtime


def test_selu_rule_is_a_function_of_cpu_and_torch_version(default_settings, monkeypatch):
    runtime = default_settings
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    monkeypatch.setattr(torch, "__version__", "2.14.1+cu130")
    assert runtime.kernels_for("cpu").selu == "exp"
    monkeypatch.setattr(torch, "__version__", "2.11.0")
    assert runtime.kernels_for("cpu").selu == "torch"
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    monkeypatch.setattr(torch, "__version__", "2.14.1")
    assert runtime.kernels_for("cpu").selu == "torch"


def test_kernels_are_forced_only_by_applied_settings(default_settings, monkeypatch):
    """The environment is read when the command line starts (Settings.from_env + apply),
    never by a model or a forward pass."""
    runtime = default_settings
    rule = runtime.kernels_for("cpu")
    forced = "exp" if rule.selu == "torch" else "torch"
    monkeypatch.setenv("AASIST_SELU", forced)
    monkeypatch.setenv("AASIST_LAYOUT", "contiguous")
    assert runtime.kernels_for("cpu") == rule  # set, but not applied: the rule
    settings = runtime.Settings.from_env()
    assert (settings.selu, settings.layout) == (forced, "contiguous")
    runtime.apply(runtime.Settings(selu=forced, layout="contiguous", malloc_tuning=False))
    assert runtime.kernels_for("cpu").selu == forced
    assert runtime.kernels_for("cpu").eval_layout == "contiguous"
    model = _model("AASIST-L")  # built after apply: the forced kernels
    assert model.kernels == runtime.kernels_for("cpu")
    monkeypatch.setenv("AASIST_SELU", rule.selu)  # a later environment change is ignored
    assert runtime.kernels_for("cpu").selu == forced
    # unknown values in the environment fall back to the rule; bad explicit ones are errors
    assert runtime.Settings.from_env({"AASIST_SELU": "fast"}).selu == "auto"
    with pytest.raises(aasist.ConfigError, match="valid: auto, torch, exp"):
        runtime.Settings(selu="fast")
    with pytest.raises(ValueError, match="unknown SELU kernel"):
        aasist.Kernels(selu="fast")


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("layout", ["channels_last", "contiguous"])
def test_every_layout_matches_official_outputs_and_gradients(name, layout):
    """Each encoder layout, given explicitly, gives the official logits (eval) and the same
    gradients (training) as the other one, whatever this machine would pick by itself."""
    ref = np.load(PARITY)
    model = _official(name)
    model.kernels = aasist.Kernels(train_layout=layout, eval_layout=layout)
    with torch.inference_mode():
        logits = model(torch.from_numpy(ref["input"])).numpy()
    np.testing.assert_allclose(logits, ref[f"{name}/logits"], atol=1e-4, rtol=0)

    grads = {}
    for forced in ("channels_last", "contiguous"):
        model = _official(name)  # eval mode: no dropout, fixed BatchNorm statistics
        model.kernels = aasist.Kernels(train_layout=forced, eval_layout=forced)
        x = torch.from_numpy(ref["input"][:2, :16000].copy())
        loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([0, 1]))
        grads[forced] = torch.autograd.grad(loss, [p for p in model.parameters() if p.requires_grad])
    for a, b in zip(grads["channels_last"], grads["contiguous"]):
        # Float32 rounding differs between the layouts by ~1e-7; where two candidates of a max
        # (pooling, the graph's amax over time) are that close, the gradient goes to the other
        # one, which moves a weight's gradient by up to ~2e-3 of its size (measured against a
        # float64 run: both layouts are that close to it). A wrong kernel would be off by O(1).
        assert (a - b).norm() <= 5e-3 * b.norm() + 1e-6


def test_layout_rule(default_settings, monkeypatch):
    runtime = default_settings
    assert runtime.kernels_for("cpu").eval_layout == "channels_last"
    assert runtime.kernels_for("cuda").train_layout == "channels_last"
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # oneDNN held to AVX2: default layout
    assert not runtime.onednn_avx512()
    assert runtime.kernels_for("cpu").train_layout == "contiguous"
    runtime.apply(runtime.Settings(layout="channels_last", malloc_tuning=False))
    assert runtime.kernels_for("cpu").train_layout == "channels_last"


def test_freq_aug_masks_sinc_bands():
    model = _model("AASIST-L")
    x = torch.randn(1, 4000)
    plain = model.conv_time(x)
    np.random.seed(3)  # width int(U(0, 20)) > 0 with this seed
    masked = model.conv_time(x, mask=True)
    zero_bands = (masked.abs().sum(-1) == 0).sum().item()
    assert 0 < zero_bands < 20 and not torch.equal(plain, masked)


@pytest.mark.slow
def test_short_training_step_lowers_loss():
    before, after = loss_before_and_after_steps(_model("AASIST-L"), torch.device("cpu"))
    assert after < before


def test_load_weights_errors_name_the_file(tmp_path):
    model = _model("AASIST")
    with pytest.raises(aasist.DataError, match="missing.pth: weights not found.*official:AASIST-L"):
        aasist.load_weights(model, tmp_path / "missing.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(aasist.DataError, match=r"junk.pth: not a readable PyTorch checkpoint "
                                               r"\(\w+Error: .+\)") as info:
        aasist.load_weights(model, junk)
    # the cause is kept (in the message and as __cause__), not hidden
    assert info.value.__cause__ is not None
    assert f"({type(info.value.__cause__).__name__}: " in str(info.value)  # class and reason
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(aasist.DataError, match=r"empty.pth: .*\(EOFError: the file ends early"):
        aasist.load_weights(model, empty)
    with pytest.raises(aasist.DataError, match="do not fit") as info:
        aasist.load_weights(model, official_weights("AASIST-L"))
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(aasist.DataError, match="weights is a folder"):
        aasist.load_weights(model, tmp_path)


@pytest.mark.slow
def test_malloc_tuning_can_be_switched_off():
    code = ("import aasist.runtime as r; r.apply(r.Settings.from_env()); print(r.malloc_tuned)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={"AASIST_MALLOC_TUNING": "0", "PATH": ""}, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc allocator tuning is Linux-only")
def test_malloc_tuning_keeps_freed_memory_for_the_next_step():
    """A freed 2.5 GiB block is reused without page faults: glibc must never trim it away.

    (With M_TRIM_THRESHOLD at its largest finite mallopt value, 2 GiB, a training step's
    freed activations went back to the OS and page-faulted back in on the next step.)
    Plain malloc/free in one thread, so that no other allocation lands between them."""
    code = (
        "import ctypes, resource, sys, aasist.runtime as r\n"
        "if not r.tune_malloc(): print('untuned'); sys.exit()\n"
        "libc = ctypes.CDLL('libc.so.6'); libc.malloc.restype = ctypes.c_void_p\n"
        "libc.malloc.argtypes = [ctypes.c_size_t]; libc.free.argtypes = [ctypes.c_void_p]\n"
        "def touch():\n"
        "    p = libc.malloc(5 << 29); ctypes.memset(p, 1, 5 << 29); libc.free(p)\n"
        "touch()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "touch()\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         check=True)
    last = out.stdout.strip().splitlines()[-1]
    if last == "untuned":
        pytest.skip("allocator tuning not applied here (AASIST_MALLOC_TUNING=0, or no glibc mallopt)")
    faults = int(last)
    assert faults < (5 << 29) // 4096 // 10, f"{faults} page faults re-touching a freed 2.5 GiB block"


def test_interpolated_weights_lie_between_the_two_and_the_script_writes_them(tmp_path, capsys):
    from aasist.errors import ConfigError, DataError
    from aasist.pretrained import interpolate_weights
    from conftest import load_script
    config = aasist.load_config(CONFIG_DIR / "mini.conf")
    torch.manual_seed(0)
    a, b = _model("mini"), _model("mini")
    with torch.no_grad():
        for p in b.parameters():
            p.add_(torch.randn_like(p))
        b.encoder[0][0].bn2.running_var.mul_(3)  # BatchNorm statistics are averaged too
        b.encoder[0][0].bn2.num_batches_tracked.fill_(7)
    torch.save(a.state_dict(), tmp_path / "a.pth")
    torch.save(b.state_dict(), tmp_path / "b.pth")
    sa, sb = a.state_dict(), b.state_dict()
    for alpha, expect in ((0.0, sa), (1.0, sb)):
        mixed = interpolate_weights(config["model_config"], tmp_path / "a.pth", tmp_path / "b.pth", alpha).state_dict()
        assert all(torch.equal(mixed[k], expect[k]) for k in expect if expect[k].is_floating_point())
    half = interpolate_weights(config["model_config"], tmp_path / "a.pth", tmp_path / "b.pth").state_dict()
    assert all(torch.allclose(half[k], (sa[k] + sb[k]) / 2, atol=1e-6) for k in sa if sa[k].is_floating_point())
    assert half["encoder.0.0.bn2.num_batches_tracked"] == 7
    with pytest.raises(ConfigError, match="alpha"):
        interpolate_weights(config["model_config"], tmp_path / "a.pth", tmp_path / "b.pth", 1.5)
    with pytest.raises(DataError, match="AASIST.pth.*do not fit"):
        interpolate_weights(config["model_config"], tmp_path / "a.pth", official_weights("AASIST"))

    script = load_script("interpolate_weights.py")
    out = tmp_path / "soup" / "mid.pth"
    assert script.main(["--config", str(CONFIG_DIR / "mini.conf"), str(tmp_path / "a.pth"),
                        str(tmp_path / "b.pth"), "--out", str(out)]) == 0
    saved = torch.load(out, weights_only=True)
    assert all(torch.equal(saved[k], half[k]) for k in half)
    assert script.main(["--config", str(CONFIG_DIR / "mini.conf"), str(tmp_path / "missing.pth"),
                        str(tmp_path / "b.pth"), "--out", str(tmp_path / "x.pth")]) == 1
    assert "missing.pth: weights not found" in capsys.readouterr().err and not (tmp_path / "x.pth").exists()
