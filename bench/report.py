"""A benchmark's result file: JSON written atomically, its folder created.

from report import save_json
save_json("bench/results/peer_torch.json", {"rows": rows})
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lstmgen.util.atomic import write_text


def save_json(path: str | os.PathLike, result: object, indent: int = 2) -> Path:
    """Write `result` as indented JSON (values JSON lacks, such as paths, as strings) and return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, json.dumps(result, indent=indent, default=str) + "\n")
    return out
