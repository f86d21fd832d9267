"""Shared test fixtures: paths to the reference material beside the checkout."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference"
CONFIG_DIR = ROOT / "config"


@pytest.fixture
def reference_dir() -> Path:
    """../shared/reference, or a clean skip where it is absent."""
    if not (REFERENCE / "aasist_parity.npz").is_file():
        pytest.skip("../shared/reference is not present")
    return REFERENCE


def loss_before_and_after_steps(model, device, *, amp: bool = False, freq_aug: bool = False,
                                steps: int = 5) -> tuple[float, float]:
    """Eval-mode weighted cross-entropy on a fixed (4, 8000) batch before and after ``steps``
    Adam steps on it (AMP via aasist.evaluate.autocast; a GradScaler only for fp16)."""
    import torch

    from aasist.evaluate import autocast

    torch.manual_seed(0)
    model.to(device).train()
    x, y = torch.randn(4, 8000).to(device), torch.tensor([0, 1, 0, 1], device=device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    weight = torch.tensor([0.1, 0.9], device=device)
    fp16 = amp and device.type == "cuda" and not torch.cuda.is_bf16_supported()
    scaler = torch.amp.GradScaler(device.type, enabled=fp16)

    def loss_now() -> float:
        model.eval()
        with torch.no_grad():
            value = torch.nn.functional.cross_entropy(model(x), y, weight=weight).item()
        model.train()
        return value

    before = loss_now()
    for _ in range(steps):
        opt.zero_grad()
        with autocast(device, amp):
            logits = model(x, freq_aug=freq_aug)
        scaler.scale(torch.nn.functional.cross_entropy(logits.float(), y, weight=weight)).backward()
        scaler.step(opt)
        scaler.update()
    return before, loss_now()
