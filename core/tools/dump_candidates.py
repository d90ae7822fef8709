"""Write the inputs of examples/candidates.rs from a generated WARC and its WAT.

    python core/tools/dump_candidates.py bench/data/gen-1-200mb.warc.gz OUT_PREFIX

OUT_PREFIX.bin: each HTML page as Lexbor is given it (UTF-8: decoded with its charset as
extract.py does), OUT_PREFIX.jsonl: the Python path's links of each page, and, when the WAT
beside the WARC exists, OUT_PREFIX.wat.bin: its metadata payloads.
"""

import json
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pipeline.extract.html import detect_charset, extract_links  # noqa: E402
from pipeline.read.warc import HtmlPage, iter_records, read_payload, warc_records  # noqa: E402

warc, out = Path(sys.argv[1]), sys.argv[2]
with open(warc, "rb") as f, open(out + ".bin", "wb") as bodies, open(out + ".jsonl", "w") as links:
    for event in iter_records(f, input_name=str(warc)):
        if not isinstance(event, HtmlPage):
            continue
        charset = detect_charset(event.body, event.headers)
        try:
            body = event.body if charset == "utf-8" and event.body.decode("utf-8") else b""
        except UnicodeDecodeError:
            body = b""
        if not body:
            body = event.body.decode(charset, "replace").encode("utf-8", "ignore")
        bodies.write(struct.pack("<I", len(body)) + body)
        got = extract_links(event.body, event.headers)
        links.write(json.dumps({"links": [[link.href, link.anchor, link.link_type, link.context]
                                          for link in got.links]}) + "\n")
wat = warc.with_name(warc.name.replace(".warc.gz", ".warc.wat.gz"))
if wat.exists():
    with open(wat, "rb") as f, open(out + ".wat.bin", "wb") as payloads:
        for item in warc_records(f, input_name=str(wat)):
            if isinstance(item, tuple) and item[0].rec_type == "metadata":
                payload = read_payload(item[0])
                if payload is not None:
                    payloads.write(struct.pack("<I", len(payload)) + payload)
