"""Data safety: a failed write leaves nothing that looks complete; parts carry checksums."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import REPO, SAMPLE

from pipeline.config import Settings
from pipeline.errors import PartError
from pipeline.graph.aggregate import aggregate
from pipeline.parts.part import complete_part, complete_parts, part_path
from pipeline.parts.process import process_input
from pipeline.read.sources import InputFile
from pipeline.storage import LocalData

BIG_SAMPLE = SAMPLE / "resiliparse" / "warcfile.warc.gz"

# A child process whose files may not grow past LIMIT bytes: a full disk in miniature
# (RLIMIT_FSIZE; with SIGXFSZ ignored, a write past it fails with EFBIG like ENOSPC would).
CHILD = """
import resource, signal, sys
from dataclasses import replace
from pipeline.config import Settings
from pipeline.errors import BacklinksError
from pipeline.parts.process import process_input
from pipeline.read.sources import InputFile
settings = replace(Settings.defaults(), data_dir=sys.argv[2])
limit = int(sys.argv[3])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    process_input(InputFile(sys.argv[1]), settings)
except BacklinksError as error:
    print(type(error).__name__, error)
    sys.exit(3)
print("done")
"""


def run_with_file_size_limit(source: Path, data: Path, limit: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(source), str(data), str(limit)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def test_a_full_disk_during_a_part_write_leaves_no_part(tmp_path: Path) -> None:
    data = tmp_path / "data"
    child = run_with_file_size_limit(BIG_SAMPLE, data, 4096)
    assert child.returncode == 3, child.stdout + child.stderr
    assert child.stdout.startswith("PartError could not write ")
    assert "File too large" in child.stdout and "free space and run again" in child.stdout
    leftovers = list((data / "parts").iterdir())
    assert leftovers == []  # no part, no temporary folder
    # and with room again, the same input gives its part
    settings = replace(Settings.defaults(), data_dir=str(data))
    result = process_input(InputFile(str(BIG_SAMPLE)), settings)
    assert result.pages == 16 and not result.reused


def test_the_part_manifest_records_sizes_and_checksums(tmp_path: Path) -> None:
    settings = replace(Settings.defaults(), data_dir=str(tmp_path))
    result = process_input(InputFile(str(BIG_SAMPLE)), settings)
    folder = part_path(LocalData(tmp_path), result.key)
    manifest = json.loads((folder / "part.json").read_text())
    names = sorted(p.name for p in folder.glob("*.partitions"))
    assert sorted(manifest["files"]) == names and names
    for name, entry in manifest["files"].items():
        assert entry["bytes"] == (folder / name).stat().st_size and len(entry["sha256"]) == 64


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_a_damaged_part_is_rewritten_or_refused_never_used(tmp_path: Path, damage: str) -> None:
    settings = replace(Settings.defaults(), data_dir=str(tmp_path))
    source = InputFile(str(BIG_SAMPLE))
    first = process_input(source, settings)
    folder = part_path(LocalData(tmp_path), first.key)
    victim = folder / "links.partitions"
    raw = victim.read_bytes()
    if damage == "truncate":
        victim.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":
        victim.write_bytes(raw[:100] + bytes([raw[100] ^ 1]) + raw[101:])
    else:
        victim.unlink()
    # aggregation refuses it, naming the part and the file
    with pytest.raises(PartError, match=rf"{victim.name} missing or not as written"):
        complete_parts(LocalData(tmp_path))
    with pytest.raises(PartError):
        aggregate(LocalData(tmp_path))
    # the next run does not reuse it: it writes the part again
    size = BIG_SAMPLE.stat().st_size
    version = f"mtime_ns:{BIG_SAMPLE.stat().st_mtime_ns}"
    assert complete_part(LocalData(tmp_path), first.key, size, version) is None
    again = process_input(source, settings)
    assert not again.reused and again.links == first.links
    assert complete_parts(LocalData(tmp_path))[0][1].links == first.links


def test_parts_are_read_side_by_side_in_order_and_a_damaged_one_stops_the_walk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``each_complete_part`` reads the part.json files a few at a time ahead of its caller
    (side by side: from S3 a GET and a HEAD a file each) and hands them over in key order;
    a damaged part is the PartError that names it, raised where it falls in that order;
    a caller that stops early leaves no reader running."""
    import threading

    from test_aggregate import page, write

    from pipeline.parts import part

    monkeypatch.setattr(part, "PART_READERS", 3)
    keys = [f"k{number:02d}" for number in range(20)]
    for key in reversed(keys):
        write(tmp_path, key, [(page("c", f"https://{key}.org/", f"{key}.org", f"{key}.org"), [])])
    store = LocalData(tmp_path)
    assert [info.key for _, info in part.each_complete_part(store)] == keys
    assert [folder for folder, _ in complete_parts(store)] == [f"parts/{key}" for key in keys]
    threads = threading.active_count()
    walk = part.each_complete_part(store)
    assert [next(walk)[1].key for _ in range(2)] == keys[:2]
    walk.close()
    assert threading.active_count() == threads
    (part_path(store, "k13") / "pages.partitions").write_bytes(b"not the rows")
    seen = []
    with pytest.raises(PartError, match=r"k13.* is damaged: pages\.partitions"):
        for _, info in part.each_complete_part(store):
            seen.append(info.key)
    assert seen == keys[:13]
