"""What every benchmark records next to its numbers, and where it writes them."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path


def environment() -> dict[str, str]:
    """The machine and the date, so a quoted number always says where and when it was measured."""
    return {
        "machine": f"{platform.node()} {os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}",
        "date": datetime.now(UTC).date().isoformat(),
    }


def write_report(report: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1))
    return path
