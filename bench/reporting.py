"""What every benchmark records next to its numbers, and where it writes them."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOW = "FacialRecognitionTrainFlow"


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


def run_training_flow(flow_args: list[str]) -> tuple[str, float]:
    """Run ``metaflow_train.py run`` with ``flow_args``; returns the new run's id and its wall time in seconds."""
    started = time.monotonic()
    cmd = [sys.executable, str(ROOT / "metaflow_train.py"), "--no-pylint", "run", *flow_args]
    print("running:", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)
    from metaflow import Flow, namespace

    namespace(None)
    return Flow(FLOW).latest_successful_run.id, time.monotonic() - started


def finished_run(run_id: str, wall: float | None = None):
    """The Metaflow run and its wall time: ``wall`` when this process timed it, else from the run's timestamps."""
    from metaflow import Run, namespace

    namespace(None)
    run = Run(f"{FLOW}/{run_id}")
    if wall is None and run.finished_at:
        wall = (run.finished_at - run.created_at).total_seconds()
    return run, wall


def bundle_people(bundle, dataset: str | None = None) -> dict[str, list[str]]:
    """The people of ``dataset``, or of the dataset the bundle's recipe names: what a bundle's split refers to."""
    from facerec.train.data import resolve_dataset, scan_people

    return scan_people(resolve_dataset(dataset or bundle.metrics["train"]["recipe"]["dataset"]))
