"""Shared fixtures. Prefect runs against real local servers started by the tests."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import pytest
from cc_mirror import Mirror, build_mirror, upload

from pipeline.config import Settings

# Prefect reads its settings at import: give it a private home, no analytics, quiet logs.
_PREFECT_HOME = tempfile.mkdtemp(prefix="backlinks-prefect-home-")
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)  # each worker's own
os.environ.setdefault("PREFECT_HOME", _PREFECT_HOME)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
os.environ.pop("PREFECT_API_URL", None)
# No AWS account here: S3 requests go unsigned, as a user without credentials sends them, and
# botocore must not wait for an instance-metadata service that does not exist.
for _name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
    os.environ.pop(_name, None)
os.environ["AWS_CONFIG_FILE"] = os.path.join(_PREFECT_HOME, "no-aws-config")
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(_PREFECT_HOME, "no-aws-credentials")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

REPO = Path(__file__).resolve().parent.parent
# Settings for tests of remote reads: short timeouts and retries a local server answers
# within (the defaults wait minutes for a real one).
FAST_RETRIES = replace(Settings.defaults(), timeout_seconds=2.0, retry_initial_seconds=0.01,
                       retry_seconds=5.0)
DATA = REPO / "tests" / "data"
SAMPLE = DATA / "cc"
S3_BUCKET = "commoncrawl"
PRIVATE_BUCKET = "private-bucket"
PUBLIC_READ = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow", "Principal": "*",
        "Action": ["s3:GetObject", "s3:HeadObject"],
        "Resource": [f"arn:aws:s3:::{S3_BUCKET}/*"],
    }],
}


# The test files that take longest (measured: a generated corpus, S3 and Dask runs, many
# CLI runs), collected first so that `pytest -n 3 --dist loadfile` hands them out first
# and its workers finish together instead of one running a long file at the end.
LONGEST_FIRST = ("test_core_parity.py", "test_object_storage.py", "test_sql_invariants.py",
                 "test_security.py", "test_bench.py", "test_first_hour_cli.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Collect LONGEST_FIRST first; every other file, and every file's tests, keep their
    order (a stable sort, the same in every xdist worker)."""
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@dataclass
class CliRun:
    returncode: int
    stdout: str
    stderr: str
    data_dir: Path

    @property
    def db(self) -> Path:
        return self.data_dir / "graph.duckdb"


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> CliRun:
    """Run the real `backlinks` command in a child process, as a user typing
    `python -m flows.cli` would: the `UV_*` variables that `uv run pytest` leaves in the
    environment are dropped (they would make the command think `uv run` started it), unless
    the test sets them itself."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("UV_")}
    full_env = {**inherited, **(env or {})}
    completed = subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        cwd=cwd or REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    data = Path(args[args.index("--data") + 1]) if "--data" in args else REPO / "backlinks-data"
    return CliRun(completed.returncode, completed.stdout, completed.stderr, data)


def own_scratch(*kinds: str) -> set[Path]:
    """This process's scratch folders of ``kinds`` (pipeline/scratch.py names them by kind,
    machine and process): what a step run here left, not what tests in other workers
    are using."""
    return {folder for kind in kinds for folder in Path(tempfile.gettempdir()).glob(
        f"backlinks-{kind}-*-{os.getpid()}-*")}


def graph_rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every graph table, sorted: two databases with equal graph_rows hold the
    same graph (the runs table, which differs per run, is left out)."""
    from pipeline.graph.aggregate import TABLES

    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"select * from {t} order by all").fetchall() for t in TABLES}
    finally:
        con.close()


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    """`backlinks run` on the bundled sample, once per test session, split into 16 partitions
    (the count a crawl gets; the sample alone would get one) so that the tests built on it
    see partitioned parts, graph files and lookups."""
    data_dir = tmp_path_factory.mktemp("sample-run") / "data"
    result = run_cli("run", "--data", str(data_dir), "--workers", "2", "--partitions", "16")
    assert result.returncode == 0, result.stderr + result.stdout
    return result


@pytest.fixture(scope="session")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Mirror:
    """The samples in Common Crawl's layout (paths files, segments) on local disk."""
    return build_mirror(tmp_path_factory.mktemp("mirror"))


@pytest.fixture(scope="session")
def s3_endpoint(mirror: Mirror) -> Iterator[str]:
    """A local S3 server (moto, server mode) with the mirror in a public bucket ``commoncrawl``."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    admin = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="test-admin", aws_secret_access_key="test-admin",
    )
    admin.create_bucket(Bucket=S3_BUCKET)
    admin.put_bucket_policy(Bucket=S3_BUCKET, Policy=json.dumps(PUBLIC_READ))
    upload(mirror, admin, S3_BUCKET)
    admin.create_bucket(Bucket=PRIVATE_BUCKET)
    admin.put_object(Bucket=PRIVATE_BUCKET, Key="secret.warc.gz", Body=b"not for you")
    yield endpoint
    server.stop()


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """One Prefect API server for the CLI runs that opt in (PREFECT_API_URL in their env)."""
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start(timeout=180)
    yield server.api_url
    server.stop()
