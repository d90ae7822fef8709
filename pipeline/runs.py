"""A run as a whole: its record (one JSON file per run in ``runs/`` of the data location,
loaded into the ``runs`` table) and the summary the command line prints."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.errors import RunRecordError
from pipeline.graph.aggregate import GraphSummary
from pipeline.storage import DataStore


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


def save_run(store: DataStore, run: RunRecord) -> str:
    """Write the run's record (whole or not at all) as ``runs/<run id>.json``."""
    name = f"runs/{run.run_id}.json"
    store.write_text(name, run.to_json())
    return name


def load_runs(store: DataStore) -> list[RunRecord]:
    """Every run recorded in the data location, oldest first."""
    runs = []
    for name in store.files("runs"):
        if "/" in name or name.startswith(".") or not name.endswith(".json"):
            continue
        text = store.read_text(f"runs/{name}") or ""
        try:
            runs.append(RunRecord.from_json(text))
        except (ValueError, TypeError, KeyError) as exc:
            raise RunRecordError(
                f"run record {store.url(f'runs/{name}')!r} is unreadable ({exc}); delete it"
            ) from exc
    return sorted(runs, key=lambda run: run.started)


@dataclass(frozen=True)
class InputFailure:
    input: str
    message: str


@dataclass(frozen=True)
class RunSummary:
    """What a run did; the CLI prints it, the ``runs`` table stores most of it."""

    run_id: str
    inputs: int
    processed: int
    reused: int
    failures: list[InputFailure]
    records: int
    pages: int
    links: int
    counters: dict[str, int]
    seconds: float
    graph: GraphSummary | None = None
    db_path: Path | None = None
    damaged: dict[str, list[str]] = field(default_factory=dict)  # input -> damage notes
    unchanged: bool = False  # nothing new: no aggregation, no publish
    notes: list[str] = field(default_factory=list)  # advice the summary prints

    @property
    def published(self) -> bool:
        return self.db_path is not None
