"""glibc's heap in Dask's worker processes (portable_net/engines/heap.py): a worker that ran
a training task keeps temporaries of a few MiB in its heap instead of mapping each afresh
(distributed's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which freezes glibc's
mmap threshold at 128 KiB); the client's own process is left alone."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import portable_net as pn
from portable_net.engines import heap
from tests.conftest import selected_backends

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
if "numpy" not in selected_backends():
    pytest.skip("the Dask tests run with the numpy backend", allow_module_level=True)
if not sys.platform.startswith("linux"):
    pytest.skip("glibc's heap settings: Linux only", allow_module_level=True)


def _faults_of_fresh_temporaries() -> int:
    """Minor page faults of 20 temporaries of 2 MiB, each written and freed in turn: about
    512 each when every one is mapped afresh, a handful when the heap keeps them."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        a = np.empty(2**18)
        a.fill(1.0)
        del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@pytest.fixture
def client():
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=":0", worker_dashboard_address=None,
    )  # fmt: skip
    try:
        with distributed.Client(cluster, timeout="60s", set_as_default=False) as c:
            c.wait_for_workers(1, timeout=60)
            yield c
    finally:
        cluster.close()


def test_worker_heap_keeps_temporaries_after_a_training_task(client):
    env = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
    if set(env.values()) != {"65536"}:
        pytest.skip("this distributed does not start workers with its trim setting")
    (before,) = client.run(_faults_of_fresh_temporaries).values()
    (kept,) = client.run(lambda: heap._kept).values()
    assert kept is None  # nothing decided before a training task ran there
    X, y = pn.make_spiral(200, 3, seed=0, chunks=150)
    pn.train(pn.init_params([2, 10, 3], seed=0), X, y, steps=2, scheduler=client)
    (kept,) = client.run(lambda: heap._kept).values()
    (after,) = client.run(_faults_of_fresh_temporaries).values()
    assert kept is True
    assert before > 20 * 400  # each temporary mapped and faulted in afresh
    assert after < before / 10


def test_client_process_left_alone(monkeypatch):
    monkeypatch.setattr(heap, "_kept", None)
    assert heap.worker_keeps_temporaries() is False


def test_users_own_setting_kept(monkeypatch):
    """A worker started with MALLOC_MMAP_THRESHOLD_ keeps the user's choice."""
    monkeypatch.setattr(heap, "_kept", None)
    monkeypatch.setattr(heap, "_in_distributed_worker", lambda: True)
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    calls = []
    monkeypatch.setattr(heap, "_mallopt", lambda *a: calls.append(a) or True)
    assert heap.worker_keeps_temporaries() is False
    assert calls == []
