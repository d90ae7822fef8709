"""Coverage-guided fuzzing (atheris, libFuzzer) of the parts that read untrusted bytes.

Targets:

- ``records``: any bytes as a WARC file -> ``iter_records``; only ``CorruptInput`` may escape.
- ``wat``: any bytes as a WAT file -> ``iter_wat_records``; likewise.
- ``page``: any bytes as an HTML payload (the first two bytes pick a Content-Type and a page
  URL) -> ``page_rows``: the extractor, URL resolution and host folding; nothing may escape,
  and the rows keep their invariants (``tests/invariants.py``, shared with hypothesis).
- ``url``: any text as a base URL and a link (split at the first newline) ->
  ``resolve_link``; nothing may escape.

The targets themselves are in ``tests/fuzz_targets.py``.

Run one target for a while (the corpus folder keeps what it learned; crashes are written
as ``<target>-crash-*`` files; each goes to ``tests/data/fuzz/<target>-<what>`` and is
replayed by tests/test_fuzz_regressions.py):

    python3 -m uv run --frozen --extra test --extra fuzz python tests/fuzz.py records \\
        fuzz-corpus/records -max_total_time=900

Seeds: with an empty corpus folder, the target's seeds are written into it first (the
sample's smallest files and the broken corpus for the readers, sample pages for ``page``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

with atheris.instrument_imports():
    import warcio  # noqa: F401  (instrumented too: the reader's paths are warcio's paths)
    from fuzz_targets import TARGETS

    from pipeline.read.warc import HtmlPage, iter_records


def seeds(target: str) -> list[bytes]:
    sample = HERE / "data" / "cc"
    broken = HERE / "data" / "broken"
    if target in ("records", "wat"):
        files = sorted(p for p in [*sample.rglob("*"), *broken.glob("*")]
                       if p.is_file() and ".war" in p.name and p.stat().st_size < 200_000)
        if target == "wat":
            files = [p for p in files if ".wat" in p.name]
        return [p.read_bytes() for p in files]
    if target == "page":
        pages = []
        for path in sorted(sample.rglob("*.warc.gz"))[:6]:
            with open(path, "rb") as handle:
                pages += [e.body[:50_000] for e in iter_records(handle, input_name=path.name)
                          if isinstance(e, HtmlPage)]
        return [b"\x00\x00" + body for body in pages[:20]]
    return [b"http://example.com/a/\n../b?c=d#e", b"https://x.y/\n//%zz", b"\nhttp://[::1]/"]


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: fuzz.py {{{'|'.join(TARGETS)}}} CORPUS_DIR [libFuzzer options]")
    target = sys.argv.pop(1)
    corpus = next((Path(a) for a in sys.argv[1:] if not a.startswith("-")), None)
    if corpus is not None:
        corpus.mkdir(parents=True, exist_ok=True)
        if not any(corpus.iterdir()):
            for i, seed in enumerate(seeds(target)):
                (corpus / f"seed-{i:03d}").write_bytes(seed)
    atheris.Setup(sys.argv, TARGETS[target])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
