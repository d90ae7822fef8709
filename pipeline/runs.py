"""Run records: one JSON file per run in ``runs/`` of the data location, loaded into the
``runs`` table."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.errors import PartError
from pipeline.storage import DataStore, as_store


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


def save_run(data_dir: DataStore | Path, run: RunRecord) -> str:
    """Write the run's record (whole or not at all) as ``runs/<run id>.json``."""
    name = f"runs/{run.run_id}.json"
    as_store(data_dir).write_text(name, run.to_json())
    return name


def load_runs(data_dir: DataStore | Path) -> list[RunRecord]:
    """Every run recorded in the data location, oldest first."""
    store = as_store(data_dir)
    runs = []
    for name in store.files("runs"):
        if "/" in name or name.startswith(".") or not name.endswith(".json"):
            continue
        text = store.read_text(f"runs/{name}") or ""
        try:
            runs.append(RunRecord.from_json(text))
        except (ValueError, TypeError, KeyError) as exc:
            raise PartError(
                f"run record {store.url(f'runs/{name}')!r} is unreadable ({exc}); delete it"
            ) from exc
    return sorted(runs, key=lambda run: run.started)
