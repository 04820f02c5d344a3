import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO / "tests" / "data" / "shared"   # a copy of ../shared (tests/data/shared/README.md)
SHARED_DATA = SHARED / "data"


@pytest.fixture
def shared_data() -> Path:
    assert SHARED_DATA.is_dir(), "tests/data/shared is part of the repository"
    return SHARED_DATA


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def have(tool: str) -> bool:
    return shutil.which(tool) is not None
