"""Where the shared real data lives: $MACHIHUB_SHARED_DATA, else a `shared/data` folder beside (or above) the
checkout, else /work/shared/data. A fresh clone anywhere on the machine finds it."""
from __future__ import annotations

import os
from pathlib import Path


def shared_root() -> Path:
    if os.environ.get("MACHIHUB_SHARED_DATA"):
        return Path(os.environ["MACHIHUB_SHARED_DATA"]).parent
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared"
    return Path("/work/shared")


SHARED = shared_root()
DATA = SHARED / "data"
TOOLS = SHARED / "tools"
