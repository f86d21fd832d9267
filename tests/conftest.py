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
