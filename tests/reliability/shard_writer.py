"""One process running the engine's shard runner on one shard, for the one-writer tests.

``python tests/reliability/shard_writer.py '<json>'`` with ``{"root", "shard", "name", "calls", "gate",
"endpoint"}``: every item writes ``out/<key>`` (naming this writer) through the root's storage and appends its
key to ``calls`` (a local file per writer). With ``gate``, the first item prints ``running`` and waits for a
line on stdin, so a test can start a second writer, or SIGKILL this one, while it holds the shard. Logs go to
stderr; the exit code is 0 when the shard completes.
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main(args: dict) -> None:
    from include.visionflow.manifest import ItemResult, Status
    from include.visionflow.shards import ShardSpec, process_shard
    from include.visionflow.storage import S3Options, open_storage

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(message)s")
    options = S3Options(endpoint_url=args["endpoint"], access_key="testing", secret_key="testing") \
        if args.get("endpoint") else None
    storage = open_storage(args["root"], options)
    gate = [bool(args.get("gate"))]

    def item(row: dict) -> ItemResult:
        with open(args["calls"], "a") as calls:
            calls.write(row["key"] + "\n")
        if gate[0]:
            gate[0] = False
            print("running", flush=True)
            sys.stdin.readline()
        storage.write_text(f"out/{row['key']}", args["name"])
        return ItemResult(row["key"], Status.OK, output=f"out/{row['key']}")

    stats = process_shard(storage, ShardSpec.from_xcom(args["shard"]), item, log_name="one writer")
    print(f"done {json.dumps(stats.counts)}", flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
