import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def realdata_dir() -> Path:
    """The shared real-data folder ($ASTROFLOW_DATA, else ../shared/data); skips when absent."""
    path = Path(os.environ.get("ASTROFLOW_DATA", ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"real data folder {path} is absent (set ASTROFLOW_DATA)")
    return path
