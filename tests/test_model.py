"""AASIST model: official checkpoint parity, shapes, lengths, gradients, a training step."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import aasist
from aasist.model import count_parameters
from conftest import CONFIG_DIR, PARITY, ROOT, loss_before_and_after_steps, official_weights

MODELS = ("AASIST-L", "AASIST")
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


@pytest.mark.parametrize("name", MODELS)
def test_parity_at_other_lengths(name):
    """Official outputs at 2315 (shortest), 16000, 48000 and 100000 samples
    (tests/data/parity_lengths.npz, made by scripts/make_parity_reference.py)."""
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


def test_fast_paths_match_plain_layers_in_every_layout():
    """The im2col convolution and the time max-pool equal nn.Conv2d / nn.MaxPool2d, values
    and gradients, for contiguous and channels_last inputs, with and without autograd."""
    from aasist.model import _conv_one_channel, _max_pool_time

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 8, kernel_size=(2, 3), padding=(1, 1))
    x = torch.randn(2, 1, 5, 40)
    assert torch.allclose(_conv_one_channel(x, conv), conv(x), atol=1e-5)
    y = torch.randn(2, 8, 5, 41)
    for layout in (torch.contiguous_format, torch.channels_last):
        z = y.contiguous(memory_format=layout)
        with torch.no_grad():
            assert torch.equal(_max_pool_time(z), torch.nn.functional.max_pool2d(y, (1, 3)))
        leaf = z.clone().requires_grad_()
        ref = y.clone().requires_grad_()
        _max_pool_time(leaf).pow(2).sum().backward()
        torch.nn.functional.max_pool2d(ref, (1, 3)).pow(2).sum().backward()
        assert torch.equal(leaf.grad, ref.grad)


def test_freq_aug_masks_sinc_bands():
    model = _model("AASIST-L")
    x = torch.randn(1, 4000)
    plain = model.conv_time(x)
    np.random.seed(3)  # width int(U(0, 20)) > 0 with this seed
    masked = model.conv_time(x, mask=True)
    zero_bands = (masked.abs().sum(-1) == 0).sum().item()
    assert 0 < zero_bands < 20 and not torch.equal(plain, masked)


def test_short_training_step_lowers_loss():
    before, after = loss_before_and_after_steps(_model("AASIST-L"), torch.device("cpu"))
    assert after < before


def test_load_weights_errors_name_the_file(tmp_path):
    model = _model("AASIST")
    with pytest.raises(aasist.DataError, match="missing.pth: weights not found.*official:AASIST-L"):
        aasist.load_weights(model, tmp_path / "missing.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(aasist.DataError, match="junk.pth"):
        aasist.load_weights(model, junk)
    with pytest.raises(aasist.DataError, match="do not fit"):
        aasist.load_weights(model, official_weights("AASIST-L"))


def test_malloc_tuning_can_be_switched_off():
    import subprocess
    import sys

    code = "import aasist.runtime as r, aasist; print(r.malloc_tuned)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={"AASIST_MALLOC_TUNING": "0", "PATH": ""}, check=True)
    assert out.stdout.strip() == "False"
