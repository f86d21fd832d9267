"""CUDA paths, skipped where no GPU is present (CI has none): official parity on the GPU,
mixed-precision inference, training steps in fp32 and AMP, the fused Adam, and a whole
`train` run on CUDA."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import aasist
from aasist.runtime import autocast
from conftest import CONFIG_DIR, PARITY, loss_before_and_after_steps, official_weights

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]
MODELS = ("AASIST-L", "AASIST")
CUDA = torch.device("cuda")


def _official(name: str) -> aasist.Model:
    model = aasist.build_model(aasist.load_config(CONFIG_DIR / f"{name}.conf")["model_config"])
    aasist.load_weights(model, official_weights(name))
    return model.to(CUDA).eval()


def _parity_case(name: str):
    """The official model on the GPU, the parity reference and its input on the GPU."""
    ref = np.load(PARITY)
    return _official(name), ref, torch.from_numpy(ref["input"]).to(CUDA)


@pytest.mark.parametrize("name", MODELS)
def test_cuda_fp32_matches_official_outputs(name):
    model, ref, x = _parity_case(name)
    # TF32 convolutions (PyTorch's default on Ampere and later) round to 10-bit mantissas;
    # strict fp32 is what the 1e-4 parity bound is about.
    with torch.inference_mode(), torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        logits = model(x).cpu().numpy()
    np.testing.assert_allclose(logits, ref[f"{name}/logits"], atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", MODELS)
def test_cuda_amp_inference_keeps_the_decisions(name):
    model, ref, x = _parity_case(name)
    with torch.inference_mode(), autocast(CUDA, True):
        logits = model(x).float().cpu().numpy()
    expected = ref[f"{name}/logits"]
    diff = np.abs(logits - expected).max()
    print(f"{name}: AMP max |logit diff| to the official fp32 outputs {diff:.3g}")
    assert np.isfinite(logits).all()
    assert (logits.argmax(1) == expected.argmax(1)).all()
    assert diff < 0.1 * np.abs(expected).max() + 0.05


@pytest.mark.parametrize("amp", [False, True])
def test_cuda_training_step_lowers_loss(amp):
    model = aasist.build_model(aasist.load_config(CONFIG_DIR / "AASIST-L.conf")["model_config"])
    before, after = loss_before_and_after_steps(model, CUDA, amp=amp, freq_aug=True)
    assert after < before


def test_train_runs_on_cuda_with_amp(tmp_path):
    from aasist.data.mini import make_mini
    from aasist.train import train

    make_mini(tmp_path / "mini", seed=1, sizes={"train": (8, 16), "dev": (6, 12), "eval": (6, 18)},
              progress=False)
    config = aasist.load_config(CONFIG_DIR / "AASIST-L.conf", [
        f"database_path={tmp_path / 'mini' / 'LA'}", "num_epochs=2", "batch_size=8",
        "model_config.nb_samp=4000", "amp=true", "use_cache=true"])
    train(config, out_dir=tmp_path / "run", device="cuda", progress=False)
    info = json.loads((tmp_path / "run" / "run_info.json").read_text())
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert info["device"].startswith("cuda") and info["gpu"]
    assert math.isfinite(metrics["eval_eer_percent"]) and math.isfinite(metrics["eval_min_tdcf"])


def test_cuda_adam_is_fused_and_steps_like_the_default():
    from aasist.train import build_optimizer

    config = aasist.load_config(CONFIG_DIR / "AASIST-L.conf")
    optim = config["optim_config"]
    model, twin = aasist.build_model(config["model_config"]), aasist.build_model(config["model_config"])
    twin.load_state_dict(model.state_dict())
    fused, _ = build_optimizer(model.to(CUDA), optim, total_steps=10)
    plain = torch.optim.Adam(twin.to(CUDA).parameters(), lr=optim["base_lr"], betas=tuple(optim["betas"]),
                             weight_decay=optim["weight_decay"])
    assert fused.defaults["fused"] and not plain.defaults.get("fused")
    x = torch.randn(2, 8000, device=CUDA)
    for net, opt in ((model, fused), (twin, plain)):
        net.train()
        torch.manual_seed(0)  # the same freq_aug-free forward, the same BatchNorm batch
        net(x).sum().backward()
        opt.step()
    for a, b in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
