"""``central publish --scheduler``: key derivation and sealing on a real Dask cluster.

A `dask scheduler` and two `dask worker` processes run on 127.0.0.1 for this module, over
TLS with certificates made here (the way docs/cluster.md tells an admin to make them). The
publish must give the same keys as the local pool, survive a worker killed mid-publish, and
leave public/ untouched when the cluster goes away mid-publish.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from central_world import write_world
from conftest import PEOPLE
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from blt_status.central import CentralStore
from blt_status.central.cluster import (
    MAX_TASK_ITEMS,
    TASKS_PER_THREAD,
    check_address,
    task_slices,
    use_scheduler,
)
from blt_status.central.demodata import write_demo_world
from blt_status.central.publish import derive_keys, publish_files
from blt_status.cli import main
from blt_status.crypto import TEST_INDEX_KDF, IndexKey
from blt_status.errors import CentralError
from blt_status.indexer import IndexParams
from blt_status.records import CANARY_INPUT, SealedRecord, open_payload

# The optional `cluster` extra (the README's test command installs it, so CI runs these).
pytest.importorskip("distributed", reason="Dask is the optional extra: pip install '.[cluster]'")
dask_config = pytest.importorskip("dask.config")
DASK = Path(sys.executable).with_name("dask")


# -- the address check (no cluster needed) ---------------------------------------------------


@pytest.mark.parametrize("address", ["tcp://10.0.0.5:8786", "tcp://192.168.1.2:8786",
                                     "tcp://scheduler.example.go.id:8786", "tcp://0.0.0.0:8786"])
def test_tcp_scheduler_off_this_machine_is_refused(address):
    with pytest.raises(CentralError) as caught:
        check_address(address)
    assert caught.value.code == "scheduler_insecure"


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "tcp://localhost:1",
                                     "tcp://[::1]:8786", "tls://scheduler.example.go.id:8786"])
def test_loopback_tcp_and_any_tls_are_accepted(address):
    assert check_address(address)[0] in ("tcp", "tls")


@pytest.mark.parametrize("address", ["127.0.0.1:8786", "http://127.0.0.1:8786", "tcp://",
                                     "tls://host", "tcp://127.0.0.1:99999", "ucx://x:1"])
def test_malformed_scheduler_address_is_refused(address):
    with pytest.raises(CentralError) as caught:
        check_address(address)
    assert caught.value.code == "scheduler_address"


def test_cli_refuses_insecure_scheduler_before_reading_anything(tmp_path, capsys):
    world = write_world(tmp_path / "inputs")
    code = main(["--lang", "en", "central", "publish", str(tmp_path / "nowhere"),
                 "--recipients", str(world.recipients), "--payout-points",
                 str(world.payout_points), "--program", str(world.program),
                 "--scheduler", "tcp://10.1.2.3:8786"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("error [scheduler_insecure]: ") and "\n" not in err


@pytest.mark.parametrize(("total", "threads"), [(0, 2), (1, 2), (7, 2), (100, 2), (5200, 256),
                                               (50_000, 2), (10, 0)])
def test_a_batch_is_cut_so_that_every_thread_has_work(total, threads):
    slices = task_slices(total, threads)
    assert [index for part in slices for index in part] == list(range(total))  # all, in order
    assert all(0 < len(part) <= MAX_TASK_ITEMS for part in slices)
    wanted = max(1, threads) * TASKS_PER_THREAD
    assert len(slices) >= min(total, max(1, threads))  # every thread has work
    assert total == 0 or len(slices) <= max(wanted, -(-total // MAX_TASK_ITEMS))


def test_tls_without_certificates_is_refused(tmp_path):
    with dask_config.set({"distributed.comm.tls.ca-file": None}), \
            pytest.raises(CentralError) as caught, use_scheduler("tls://127.0.0.1:1"):
        pass
    assert caught.value.code == "scheduler_tls_config"


# -- a real cluster over TLS ------------------------------------------------------------------


def _certificates(folder: Path) -> dict[str, Path]:
    """A CA and one certificate for 127.0.0.1 it signed (scheduler, workers and client)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "blt test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {"ca": folder / "ca.pem", "cert": folder / "node.pem", "key": folder / "node.key"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    paths["key"].chmod(0o600)
    return paths


@dataclass
class Cluster:
    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]
    tls: dict[str, Path]

    def client_config(self) -> dict[str, object]:
        return {"distributed.comm.tls.ca-file": str(self.tls["ca"]),
                "distributed.comm.tls.client.cert": str(self.tls["cert"]),
                "distributed.comm.tls.client.key": str(self.tls["key"]),
                "distributed.comm.require-encryption": True}

    def live_workers(self) -> list[subprocess.Popen[bytes]]:
        return [worker for worker in self.workers if worker.poll() is None]


def _spawn(log: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen([str(DASK), *args], stdout=output, stderr=subprocess.STDOUT,
                                env=env)


def _start_cluster(folder: Path, workers: int = 2) -> Cluster:
    tls = _certificates(folder)
    tls_args = ["--tls-ca-file", str(tls["ca"]), "--tls-cert", str(tls["cert"]),
                "--tls-key", str(tls["key"])]
    scheduler_file = folder / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    scheduler = _spawn(folder / "scheduler.log", env,
                       "scheduler", "--host", "127.0.0.1", "--port", "0", "--protocol", "tls",
                       "--no-dashboard", "--scheduler-file", str(scheduler_file), *tls_args)
    deadline = time.monotonic() + 40
    while not scheduler_file.exists() or not scheduler_file.read_text().strip():
        assert scheduler.poll() is None and time.monotonic() < deadline, "no scheduler"
        time.sleep(0.1)
    address = json.loads(scheduler_file.read_text())["address"]
    started = [_spawn(folder / f"worker-{number}.log", env,
                      "worker", "--scheduler-file", str(scheduler_file), "--no-nanny",
                      "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard",
                      "--death-timeout", "20", "--name", f"worker-{number}", *tls_args)
               for number in range(workers)]
    cluster = Cluster(address, scheduler, started, tls)
    with dask_config.set(cluster.client_config()), use_scheduler(address) as executor:
        executor.client.wait_for_workers(workers, timeout=40)
    return cluster


def _stop(cluster: Cluster) -> None:
    for process in [*cluster.workers, cluster.scheduler]:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = _start_cluster(tmp_path_factory.mktemp("dask"))
    try:
        with dask_config.set(running.client_config()):
            yield running
    finally:
        _stop(running)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    return write_demo_world(tmp_path_factory.mktemp("demo"), recipients=600, seed=11)


PARAMS = IndexParams(epoch_salt=b"cluster-salt-16b", kdf=TEST_INDEX_KDF,
                     master_pepper=b"p" * 32)


def test_cluster_gives_the_keys_and_seals_of_the_local_pool(cluster):
    items = [(person.nik, view, person.shard,
              person.payload if view == "officer" else person.payload.for_recipient())
             for person in PEOPLE for view in ("officer", "recipient")]
    items += [(CANARY_INPUT, "officer", "32.01.01", None), (CANARY_INPUT, "recipient", "", None)]
    seen: list[tuple[int, int]] = []
    with use_scheduler(cluster.address):
        remote = derive_keys(PARAMS, items, workers=None,
                             progress=lambda stage, done, total: seen.append((done, total)))
    local = derive_keys(PARAMS, items, workers=1, progress=None)
    assert [root for root, _ in remote] == [root for root, _ in local]
    for (_, view, shard, payload), (root, blob) in zip(items, remote, strict=True):
        if payload is None:
            assert blob == b""
            continue
        key = IndexKey.from_root(root)
        assert open_payload(SealedRecord(key.tag, shard, blob), key=key, view=view) == payload
    assert seen[0] == (0, len(items)) and seen[-1] == (len(items), len(items))


def _public_bytes(store_dir: Path) -> dict[str, str]:
    return {str(path.relative_to(store_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted((store_dir / "public").rglob("*")) if path.is_file()}


def test_cli_publish_on_the_cluster_then_sync_and_lookup(cluster, tmp_path, capsys,
                                                          monkeypatch):
    world = write_world(tmp_path / "inputs")
    central = tmp_path / "central"
    assert main(["central", "init", str(central), "--kdf", "test"]) == 0
    capsys.readouterr()
    assert main(["central", "publish", str(central), "--recipients", str(world.recipients),
                 "--payout-points", str(world.payout_points), "--program", str(world.program),
                 "--scheduler", cluster.address, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["version"] == 1 and report["published"] == len(PEOPLE)
    assert report["keys_derived"] == 2 * len(PEOPLE)

    monkeypatch.setenv("BLT_PASSPHRASE", "kata sandi klaster")
    bundle, device = tmp_path / "officer.bundle", tmp_path / "device"
    assert main(["central", "enroll", str(central), "--region", "32.01.01", "--out",
                 str(bundle)]) == 0
    assert main(["init", "--data-dir", str(device), "--bundle", str(bundle),
                 "--insecure-test-kdf"]) == 0
    assert main(["sync", "--from", str(central / "public"), "--data-dir", str(device)]) == 0
    capsys.readouterr()
    for person in PEOPLE[:3]:  # the Cibinong ones
        assert main(["lookup", person.nik, "--data-dir", str(device), "--json"]) == 0
        answer = json.loads(capsys.readouterr().out)
        assert answer["found"] and answer["status"] == "scheduled" and answer["amount"] > 0


def test_a_publish_keeps_both_workers_deriving_at_once(cluster, tmp_path):
    """The publisher hands over one kecamatan at a time, and each went to the cluster as one
    task: one worker derived while the other waited, so a cluster of any size ran on one
    thread (the benchmark, which sent many kecamatan in one call, did not show it)."""
    from distributed import get_task_stream

    world = write_demo_world(tmp_path / "demo", recipients=1200, seed=5, per_kecamatan=400)
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF)
    with use_scheduler(cluster.address) as executor, \
            get_task_stream(executor.client) as stream:
        report = publish_files(store, world.recipients_csv, world.payout_points_csv,
                               world.program_toml)
    assert report.keys_derived == 2 * report.published
    computing = sorted((part["start"], part["stop"], task["worker"]) for task in stream.data
                       for part in task["startstops"] if part["action"] == "compute")
    assert len({worker for *_, worker in computing}) == 2
    together = sum(1 for index, (start, _, worker) in enumerate(computing)
                   if any(other_start <= start < other_stop and other_worker != worker
                          for other_start, other_stop, other_worker in computing[:index]))
    assert together >= 2 * len(report.kecamatan) + 2, (together, len(computing))


def test_a_worker_killed_mid_publish_is_retried_and_the_publish_completes(cluster, demo,
                                                                          tmp_path):
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF)
    killed: list[tuple[int, int]] = []

    def kill_one_worker(stage: str, done: int, total: int) -> None:
        if stage == "sealing" and 0 < done < total and not killed:
            os.kill(cluster.live_workers()[0].pid, signal.SIGKILL)
            killed.append((done, total))

    with use_scheduler(cluster.address):
        report = publish_files(store, demo.recipients_csv, demo.payout_points_csv,
                               demo.program_toml, progress=kill_one_worker)
    assert killed, "the worker was not killed while keys were being derived"
    assert len(cluster.live_workers()) == 1
    assert report.version == 1 and report.published > 300
    assert report.keys_derived == 2 * report.published
    local = CentralStore.init(tmp_path / "local", kdf=TEST_INDEX_KDF)
    assert publish_files(local, demo.recipients_csv, demo.payout_points_csv,
                         demo.program_toml, workers=1).published == report.published


def test_cluster_lost_mid_publish_leaves_public_unchanged(cluster, demo, tmp_path):
    """Runs last: it stops the module's scheduler."""
    world = write_world(tmp_path / "inputs")
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF)
    assert publish_files(store, world.recipients, world.payout_points, world.program,
                         workers=1).version == 1
    before = _public_bytes(store.directory)

    def stop_the_scheduler(stage: str, done: int, total: int) -> None:
        if stage == "sealing" and 0 < done < total and cluster.scheduler.poll() is None:
            cluster.scheduler.kill()
            cluster.scheduler.wait(timeout=20)

    with pytest.raises(CentralError) as caught, use_scheduler(cluster.address,
                                                              stall_seconds=5):
        publish_files(store, demo.recipients_csv, demo.payout_points_csv, demo.program_toml,
                      progress=stop_the_scheduler, allow_shrink=True)  # another world: a shrink
    assert caught.value.code == "cluster_failed"
    assert cluster.scheduler.poll() is not None, "the scheduler was not stopped mid-publish"
    assert _public_bytes(store.directory) == before
    assert store.published_version() == 1
