"""The import contract (docs/architecture.md): stages import only downward, the library never
imports flows/, and only pipeline/storage/ knows boto3, credentials and which backend it has.

Read from the source with ast, every import counted, those inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import REPO

# Lowest first. A module may import from its own layer and the layers below it.
LAYERS: list[tuple[str, ...]] = [
    ("pipeline.errors", "pipeline.counters", "pipeline.bundled", "pipeline.rules",
     "pipeline.partitions", "pipeline.compiled", "pipeline.scratch"),
    ("pipeline.storage",),
    ("pipeline.config",),
    ("pipeline.read",),
    ("pipeline.extract",),
    ("pipeline.parts",),
    ("pipeline.graph",),
    ("pipeline.runs",),
    ("pipeline.publish",),
    ("pipeline.serve",),
]
OBJECT_STORE_CLIENTS = ("boto3", "botocore", "s3fs", "aiobotocore")
BACKENDS = ("LocalData", "S3Data")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def library_modules() -> list[Path]:
    return sorted((REPO / "pipeline").rglob("*.py"))


def imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def layer_of(name: str) -> int | None:
    for index, prefixes in enumerate(LAYERS):
        if any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes):
            return index
    return None


def test_every_library_module_has_a_layer() -> None:
    missing = [module_name(p) for p in library_modules()
               if module_name(p) != "pipeline" and layer_of(module_name(p)) is None]
    assert missing == [], f"add these to LAYERS and docs/architecture.md: {missing}"


@pytest.mark.parametrize("path", library_modules(), ids=module_name)
def test_stages_import_only_downward(path: Path) -> None:
    own = layer_of(module_name(path))
    if own is None:
        return
    upward = [name for name in imports(path)
              if (layer := layer_of(name)) is not None and layer > own]
    assert upward == [], f"{module_name(path)} (layer {own}) imports {upward}"


@pytest.mark.parametrize("path", library_modules(), ids=module_name)
def test_the_library_never_imports_flows(path: Path) -> None:
    assert [name for name in imports(path) if name.split(".")[0] == "flows"] == []


@pytest.mark.parametrize("path", library_modules() + sorted((REPO / "flows").rglob("*.py")),
                         ids=module_name)
def test_only_storage_knows_object_store_clients_and_backends(path: Path) -> None:
    if module_name(path).startswith("pipeline.storage"):
        return
    clients = [name for name in imports(path) if name.split(".")[0] in OBJECT_STORE_CLIENTS]
    assert clients == [], f"{module_name(path)} imports {clients}: go through pipeline.storage"
    tree = ast.parse(path.read_text("utf-8"))
    backends = sorted({node.id for node in ast.walk(tree)
                       if isinstance(node, ast.Name) and node.id in BACKENDS}
                      | {node.attr for node in ast.walk(tree)
                         if isinstance(node, ast.Attribute) and node.attr in BACKENDS})
    assert backends == [], (
        f"{module_name(path)} names {backends}: use the DataStore interface (open_store)")
    credentials = [word for word in ("aws_access_key_id", "aws_secret_access_key",
                                     "storage_options", "get_credentials")
                   if word in path.read_text("utf-8")]
    assert credentials == [], f"{module_name(path)} handles credentials: {credentials}"


def test_the_contract_catches_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: a storage module importing the graph stage is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from pipeline.graph.aggregate import TABLES\n")
    assert [n for n in imports(bad) if (layer_of(n) or 0) > layer_of("pipeline.storage.x")]
