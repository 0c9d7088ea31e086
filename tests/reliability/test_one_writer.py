"""Issue 24: one writer per shard. Two processes running the shard runner on the same shard, on local disk
and on the sample source's moto S3: exactly one writes, the other stops with one line naming the holder;
the lease of a process SIGKILLed mid-shard is taken over by the next run, which completes the shard."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from include.visionflow.lease import Holder
from include.visionflow.manifest import read_manifest
from include.visionflow.shards import write_shards
from include.visionflow.storage import S3Options, open_storage

pytestmark = [pytest.mark.timeout(180)]
WRITER = Path(__file__).with_name("shard_writer.py")
ROOT = WRITER.parents[2]
ITEMS = 6


@pytest.fixture(params=["local", "s3"])
def root(request, tmp_path, sample_source) -> tuple[str, str]:
    """(output root, S3 endpoint or ""), a fresh one per test."""
    if request.param == "local":
        return str(tmp_path / "out"), ""
    sample_source.s3.ensure_bucket("vf-lease")
    return f"s3://vf-lease/{tmp_path.name}", sample_source.s3.endpoint_url


def storage_of(root: tuple[str, str]):
    path, endpoint = root
    return open_storage(path, S3Options(endpoint_url=endpoint, access_key="testing", secret_key="testing")
                        if endpoint else None)


class Writer:
    def __init__(self, root, spec, name: str, tmp_path: Path, gate: bool = False, env: dict | None = None):
        self.name, self.calls = name, tmp_path / f"calls-{name}.txt"
        args = {"root": root[0], "endpoint": root[1], "shard": spec.to_xcom(), "name": name,
                "calls": str(self.calls), "gate": gate}
        self.proc = subprocess.Popen([sys.executable, str(WRITER), json.dumps(args)], cwd=ROOT,
                                     env={**os.environ, **(env or {})}, text=True, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def wait_running(self) -> None:
        assert self.proc.stdout.readline().strip() == "running", self.finish()[1]

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        out, err = self.proc.communicate(input="go\n" if self.proc.stdin and not self.proc.stdin.closed else None,
                                         timeout=timeout)
        return self.proc.returncode, out, err

    def items_run(self) -> list[str]:
        return self.calls.read_text().split() if self.calls.exists() else []

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


def one_shard(storage):
    (spec,) = write_shards(storage, "_work/lease", ({"key": f"k{i}"} for i in range(ITEMS)), ITEMS, ["key"])
    return spec


def busy_line(stderr: str) -> str:
    """The error the task fails with: the one line a task log shows for it, after the traceback."""
    lines = [line for line in stderr.splitlines() if "another process is writing this shard" in line]
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


def test_a_second_writer_stops_and_names_the_holder(root, tmp_path):
    storage = storage_of(root)
    spec = one_shard(storage)
    first = Writer(root, spec, "first", tmp_path, gate=True)
    try:
        first.wait_running()  # it holds the lease and is in its first item
        second = Writer(root, spec, "second", tmp_path)
        code, out, err = second.finish()
        assert code != 0 and "done" not in out
        line = busy_line(err)
        assert "shard 0 (one writer)" in line and storage.uri(spec.lease_rel) in line
        assert f"held by {socket.gethostname().replace('-', '_')} pid {first.proc.pid} since 20" in line
        assert line.startswith("include.visionflow.errors.ShardBusyError: ")
        assert second.items_run() == []  # it stopped before its first item
        code, out, err = first.finish()
        assert code == 0, err[-3000:]
    finally:
        first.kill()
    rows = read_manifest(storage, spec.manifest_rel)
    assert sorted(r.key for r in rows) == [f"k{i}" for i in range(ITEMS)]
    assert {storage.read_text(f"out/k{i}") for i in range(ITEMS)} == {"first"}
    assert not storage.exists(spec.lease_rel)  # released with the shard


def test_the_lease_of_a_killed_writer_is_taken_over(root, tmp_path):
    storage = storage_of(root)
    spec = one_shard(storage)
    killed = Writer(root, spec, "killed", tmp_path, gate=True)
    try:
        killed.wait_running()
        killed.proc.send_signal(signal.SIGKILL)
        killed.proc.wait()
    finally:
        killed.kill()
    assert storage.exists(spec.lease_rel) and not storage.exists(spec.stats_rel)
    rerun = Writer(root, spec, "rerun", tmp_path)
    code, out, err = rerun.finish()
    assert code == 0, err[-3000:]
    assert f"took over the lease of {socket.gethostname().replace('-', '_')} pid {killed.proc.pid}" in err
    rows = read_manifest(storage, spec.manifest_rel)
    assert sorted(r.key for r in rows) == [f"k{i}" for i in range(ITEMS)] and {r.status.value for r in rows} == {"ok"}
    assert {storage.read_text(f"out/k{i}") for i in range(ITEMS)} == {"rerun"}
    assert rerun.items_run() == [f"k{i}" for i in range(ITEMS)] and not storage.exists(spec.lease_rel)


def test_an_s3_lease_of_another_host_holds_until_it_goes_stale(sample_source, tmp_path):
    """Another host's process cannot be asked whether it lives: its lease holds while it is renewed, and is
    taken over once it was not for VISIONFLOW_LEASE_TIMEOUT_S (0 here: any age is too old)."""
    root = (f"s3://vf-lease/{tmp_path.name}", sample_source.s3.endpoint_url)
    sample_source.s3.ensure_bucket("vf-lease")
    storage = storage_of(root)
    spec = one_shard(storage)
    other = Holder("otherhost", 4242, "1", "2026-01-01T00:00:00+00:00", "t0k3n")
    storage.write_bytes(spec.lease_rel, other.encode())
    code, _, err = Writer(root, spec, "fresh", tmp_path).finish()
    assert code != 0 and "held by otherhost pid 4242 since 2026-01-01T00:00:00+00:00" in busy_line(err)
    code, _, err = Writer(root, spec, "late", tmp_path, env={"VISIONFLOW_LEASE_TIMEOUT_S": "0"}).finish()
    assert code == 0, err[-3000:]
    assert "took over the lease of otherhost pid 4242" in err and "not renewed for" in err
    assert len(read_manifest(storage, spec.manifest_rel)) == ITEMS and not storage.exists(spec.lease_rel)
