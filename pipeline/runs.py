"""Run records: one JSON file per run in ``<data_dir>/runs/``, loaded into the ``runs`` table."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.errors import PartError


@dataclass(frozen=True)
class RunRecord:
    """One run, as the ``runs`` table shows it."""

    run_id: str
    started: datetime
    finished: datetime
    status: str  # complete | partial
    inputs: int
    inputs_reused: int
    records: int
    pages: int
    links: int
    failed_inputs: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        data = asdict(self)
        data["started"] = self.started.isoformat()
        data["finished"] = self.finished.isoformat()
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        data = json.loads(text)
        data["started"] = datetime.fromisoformat(data["started"])
        data["finished"] = datetime.fromisoformat(data["finished"])
        return cls(**data)


def runs_dir(data_dir: Path) -> Path:
    return data_dir / "runs"


def save_run(data_dir: Path, run: RunRecord) -> Path:
    """Write the run's record atomically (temporary name, then rename)."""
    folder = runs_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run.run_id}.json"
    temporary = folder / f".{run.run_id}.json.tmp"
    temporary.write_text(run.to_json(), "utf-8")
    os.replace(temporary, path)
    return path


def load_runs(data_dir: Path) -> list[RunRecord]:
    """Every run recorded under the data folder, oldest first."""
    folder = runs_dir(data_dir)
    if not folder.is_dir():
        return []
    runs = []
    for path in sorted(folder.glob("*.json")):
        try:
            runs.append(RunRecord.from_json(path.read_text("utf-8")))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise PartError(f"run record {str(path)!r} is unreadable ({exc}); delete it") from exc
    return sorted(runs, key=lambda run: run.started)
