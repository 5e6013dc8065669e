"""The CuPy engine's fused kernels (portable_net/engines/cuda_kernels.py and cupy_engine.py).

Against the portable step, its independent reference:
- on the CPU, the very same kernel source compiled with g++ behind a serial launcher (the
  kernels' threads never communicate, so any order is a valid schedule), driven by the same
  engine that drives the GPU, so launch geometry, chunking and buffers are exercised too;
- with nvcc, where installed: the source compiles for the GPU (syntax and types as NVRTC sees
  them);
- on a GPU with CuPy: train(engine="fused") against engine="eager" (the default on CuPy until a
  recorded GPU run has proven the kernels: bench/GPU.md).
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess

import numpy as np
import pytest

import portable_net as pn
from bench.cupy_cost import bytes_per_step
from portable_net import engines, network
from portable_net._backend import backend_name, get_namespace
from portable_net.engines import cuda_kernels
from portable_net.engines import cupy_engine as _cupy
from portable_net.loss import one_hot
from portable_net.step import StepSettings, make_step

from ._helpers import to_numpy

_C_TYPES = {
    "int": ctypes.c_int,
    "float": ctypes.c_float,
    "double": ctypes.c_double,
}


def _cpu_kernels(tmp_path, dtype: str, d1: int, h: int, k: int, ex: int = 1) -> dict:
    """The kernels compiled for the host, with CuPy's RawKernel calling convention."""
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    src = tmp_path / f"step_{dtype}_{d1}_{h}_{k}_{ex}.cpp"
    lib_path = src.with_suffix(".so")
    src.write_text(cuda_kernels.cpu_source(dtype, d1, h, k, ex))
    subprocess.run(
        ["g++", "-O1", "-std=c++17", "-shared", "-fPIC", "-o", str(lib_path), str(src)],
        check=True,
        capture_output=True,
    )
    lib = ctypes.CDLL(str(lib_path))
    t = "float" if dtype == "float32" else "double"
    kernels = {}
    for name, signature in cuda_kernels.SIGNATURES.items():
        fn = getattr(lib, f"cpu_{name}")
        types = []
        for ctype, _ in signature:
            if "*" in ctype:
                types.append(ctypes.c_void_p)
            else:
                types.append(_C_TYPES[t if ctype == "T" else ctype])
        fn.argtypes = [ctypes.c_uint, ctypes.c_uint, *types]
        fn.restype = None

        def call(grid, block, args, fn=fn, signature=signature):
            assert len(args) == len(signature)
            converted = []
            for (ctype, arg_name), value in zip(signature, args):
                if "*" in ctype:
                    assert isinstance(value, np.ndarray), arg_name
                    assert value.flags.c_contiguous, arg_name
                    assert str(value.dtype) == dtype, (arg_name, value.dtype)
                    converted.append(value.ctypes.data)
                else:
                    converted.append(value.item())
            fn(grid[0], block[0], *converted)

        kernels[name] = call
    return kernels


def _setup(dtype, hidden, lr, reg, momentum, n_per_class=100, seed=0):
    xp = get_namespace("numpy")
    X, y = pn.make_spiral(n_per_class, 3, seed=seed)
    params = pn.init_params([2, hidden, 3], seed=seed + 1)
    X = X.astype(dtype)
    params = {key: v.astype(dtype) for key, v in params.items()}
    data = network.step_data(xp, X, one_hot(xp, y, 3, X.dtype))
    settings = StepSettings(n_features=2, learning_rate=lr, reg=reg, momentum=momentum)
    return xp, data, settings, params


def _run_portable(xp, data, settings, params, steps, log_every, momentum):
    packed = network.pack(xp, params, 2)
    step = make_step(xp, packed, settings)
    velocity = settings.optimizer.init(xp, packed)  # the optimiser's state
    losses = []
    for i in range(steps):
        logged = i % log_every == 0
        packed, velocity, loss = step(packed, velocity, data.Xt1, data.onehot, logged)
        if logged:
            losses.append(float(loss))
    return losses, packed


def _run_fused(xp, data, settings, params, steps, log_every, momentum, kernels):
    packed = network.pack(xp, params, 2)
    velocity = [xp.zeros_like(p) for p in packed] if momentum > 0 else []
    runner = _cupy.FusedEngine(
        xp,
        settings,
        packed,
        data,
        kernels=kernels,
        contiguous=np.ascontiguousarray,
        graph_steps=0,
    )
    losses = []
    for start in range(0, steps, log_every):
        packed, velocity, loss = runner.logged_step(packed, velocity)
        losses.append(float(loss))
        if min(log_every, steps - start) > 1:
            packed, velocity = runner.stretch(packed, velocity, min(log_every, steps - start) - 1)
    return losses, packed, runner


@pytest.mark.parametrize(
    ("dtype", "hidden", "lr", "reg", "momentum"),
    [
        ("float64", 100, 1.0, 1e-3, 0.0),  # the case study
        ("float64", 37, 0.5, 1e-3, 0.9),  # momentum, an odd width
        ("float64", 20, 1.0, 0.0, 0.0),  # no regularisation
        ("float32", 100, 0.3, 1e-3, 0.0),  # float32 rounding: a smooth stretch
    ],
)
@pytest.mark.parametrize("ex", [1, 3])  # examples per forward thread (3: a ragged last tile)
def test_fused_step_on_cpu_matches_portable_step(
    tmp_path, monkeypatch, dtype, hidden, lr, reg, momentum, ex
):
    monkeypatch.setattr(_cupy, "FORWARD_EXAMPLES", ex)
    monkeypatch.setattr(_cupy, "FORWARD_EXAMPLES_FROM", 1)
    xp, data, settings, params = _setup(dtype, hidden, lr, reg, momentum)
    kernels = _cpu_kernels(tmp_path, dtype, 3, hidden, 3, ex)
    steps, log_every = 300, 50
    ref_losses, ref_packed = _run_portable(xp, data, settings, params, steps, log_every, momentum)
    losses, packed, runner = _run_fused(
        xp, data, settings, params, steps, log_every, momentum, kernels
    )
    assert runner.plan.n_chunks > 1  # the partial sums over chunks are exercised
    assert runner.plan.ex == ex
    tol = 1e-12 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(losses, ref_losses, rtol=tol)
    for p, q in zip(packed, ref_packed):
        np.testing.assert_allclose(p, q, rtol=tol * 10, atol=tol * 10)
    assert losses[-1] < losses[0] - 0.1  # it trained


@pytest.mark.parametrize("ex", [1, 4])
def test_fused_step_on_cpu_grid_stride_and_one_chunk(tmp_path, monkeypatch, ex):
    """A grid smaller than the work (each thread loops) and one chunk for all examples."""
    monkeypatch.setattr(_cupy, "MAX_GRID", 1)
    monkeypatch.setattr(_cupy, "TARGET_THREADS", 1)  # one chunk: chunk = n
    monkeypatch.setattr(_cupy, "FORWARD_EXAMPLES", ex)
    monkeypatch.setattr(_cupy, "FORWARD_EXAMPLES_FROM", 1)
    xp, data, settings, params = _setup("float64", 30, 1.0, 1e-3, 0.0, n_per_class=1111)
    kernels = _cpu_kernels(tmp_path, "float64", 3, 30, 3, ex)
    ref_losses, ref_packed = _run_portable(xp, data, settings, params, 60, 20, 0.0)
    losses, packed, runner = _run_fused(xp, data, settings, params, 60, 20, 0.0, kernels)
    assert runner.plan.n_chunks == 1 and runner.plan.forward_grid == 1
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-12)
    for p, q in zip(packed, ref_packed):
        np.testing.assert_allclose(p, q, rtol=1e-10, atol=1e-12)


def test_plan_geometry_covers_every_example():
    for n, h in [(1, 1), (300, 100), (3_000_000, 256), (12_345, 1024), (33, 7)]:
        plan = _cupy.Plan.for_batch(n, 3, h, 3)
        assert plan.ex == (_cupy.FORWARD_EXAMPLES if n >= _cupy.FORWARD_EXAMPLES_FROM else 1)
        assert plan.forward_grid * _cupy.THREADS_PER_BLOCK * plan.ex >= min(
            n, _cupy.MAX_GRID * _cupy.THREADS_PER_BLOCK * plan.ex
        )
        assert plan.chunk >= _cupy.MIN_CHUNK
        assert (plan.n_chunks - 1) * plan.chunk < n <= plan.n_chunks * plan.chunk
        assert 1 <= plan.backward_grid <= _cupy.MAX_GRID
    # bytes of one step, counted by hand for N = 300, H = 100, float64: Xt1 read twice (3 N),
    # onehot once (3 N), dscores written and read (3 N each), partials written and read,
    # parameters read and written
    plan = _cupy.Plan(n=300, d1=3, h=100, k=3)
    partial = plan.n_chunks * 101 * 6
    params = 300 + 300 + 3
    assert bytes_per_step(plan, 8) == 8 * (
        3 * 300 * 2 + 3 * 300 + 3 * 300 * 2 + 2 * partial + 2 * params
    )


def test_supported_only_for_one_hidden_layer_full_batch():
    xp = get_namespace("numpy")
    two = network.pack(xp, pn.init_params([2, 10, 3]), 2)
    three = network.pack(xp, pn.init_params([2, 10, 10, 3]), 3)
    one = network.pack(xp, pn.init_params([2, 3]), 1)
    assert _cupy.supported(two, None)
    assert not _cupy.supported(two, 32)
    assert not _cupy.supported(three, None)
    assert not _cupy.supported(one, None)
    wide = network.pack(xp, pn.init_params([100, 10, 3]), 2)
    assert not _cupy.supported(wide, None)


@pytest.mark.parametrize(("dtype", "ex"), [("float32", 4), ("float64", 1)])
def test_kernels_compile_with_nvcc(tmp_path, dtype, ex):
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc is not installed")
    src = tmp_path / "step.cu"
    src.write_text(cuda_kernels.source(dtype, 3, 100, 3, ex))
    out = tmp_path / "step.ptx"
    res = subprocess.run(
        [nvcc, "--ptx", "-std=c++17", "-arch=compute_90", "-o", str(out), str(src)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    ptx = out.read_text()
    for name in cuda_kernels.SIGNATURES:
        assert f".entry {name}(" in ptx


# --- on a GPU ----------------------------------------------------------------------------


def _cupy_only(xp):
    if backend_name(xp) != "cupy":
        pytest.skip("the fused layer is CuPy's")


@pytest.mark.parametrize("graph_steps", [0, 16])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_cupy_layer_matches_portable_path(xp, device, monkeypatch, graph_steps, momentum):
    _cupy_only(xp)
    X, y = pn.make_spiral(100, 3, seed=0, xp=xp, device=device)
    params = pn.init_params([2, 100, 3], seed=0, xp=xp, device=device)
    lr = 1.0 if momentum == 0 else 0.1
    kw = {"steps": 1000, "log_every": 100, "learning_rate": lr, "momentum": momentum}
    runners = []
    make_runner = _cupy.fused_engine

    def spy(*args):
        runners.append(make_runner(*args, graph_steps=graph_steps))
        return runners[-1]

    monkeypatch.setattr(_cupy, "fused_engine", spy)
    fused, h_fused = pn.train(params, X, y, engine="fused", **kw)
    assert len(runners) == 1  # the fused layer ran
    if graph_steps:
        assert runners[0].graph_error is None and runners[0].graph is not None
    portable, h_portable = pn.train(params, X, y, engine="eager", **kw)
    assert len(runners) == 1  # and engine="eager" did not use it
    np.testing.assert_allclose(h_fused.loss, h_portable.loss, rtol=1e-9)
    assert abs(h_fused.final_loss - h_portable.final_loss) <= 1e-9 * h_portable.final_loss
    for key in params:
        np.testing.assert_allclose(
            to_numpy(fused[key]), to_numpy(portable[key]), rtol=1e-7, atol=1e-9
        )


def test_cupy_layer_float32_accuracy(xp, device):
    _cupy_only(xp)
    X, y = pn.make_spiral(100, 3, seed=0, xp=xp, device=device, dtype=xp.float32)
    params = pn.init_params([2, 100, 3], seed=0, xp=xp, device=device, dtype=xp.float32)
    fused, _ = pn.train(params, X, y, steps=10_000, engine="fused")
    portable, _ = pn.train(params, X, y, steps=10_000, engine="eager")
    assert abs(pn.accuracy(fused, X, y) - pn.accuracy(portable, X, y)) <= 0.01
    assert pn.accuracy(fused, X, y) >= 0.97


def _as_if_cupy(monkeypatch):
    """NumPy arrays taken for CuPy's, where train and the engines ask for the library."""
    import portable_net.training

    monkeypatch.setattr(engines, "backend_name", lambda xp: "cupy")
    monkeypatch.setattr(portable_net.training, "backend_name", lambda xp: "cupy")


def test_a_cupy_layer_that_fails_to_build_falls_back_to_the_eager_step(monkeypatch):
    """If the fused kernels cannot be built (a CUDA compiler refusing them, say), train warns
    and runs the eager step: the same numbers, no failure. Simulated on NumPy arrays by
    letting train take them for CuPy's."""
    X, y = pn.make_spiral(50)
    params = pn.init_params([2, 30, 3], seed=3, scale=0.5)
    expected, expected_hist = pn.train(params, X, y, steps=30, log_every=10)

    def refuse(*args):
        raise RuntimeError("nvrtc: error: invalid option")

    _as_if_cupy(monkeypatch)
    monkeypatch.setattr(_cupy, "fused_engine", refuse)
    with pytest.warns(RuntimeWarning, match="fused CuPy step is unavailable.*invalid option"):
        new, hist = pn.train(params, X, y, steps=30, log_every=10, engine="fused")
    np.testing.assert_allclose(hist.loss, expected_hist.loss, rtol=1e-12)
    for key in params:
        np.testing.assert_allclose(new[key], expected[key], rtol=1e-10, atol=1e-14)


def test_on_cupy_the_default_engine_is_the_eager_step_until_the_kernels_are_proven(monkeypatch):
    """No GPU run has yet shown the fused kernels equal to the step: CuPy's default (and
    engine="eager") never builds them; engine="fused" does. Simulated on NumPy arrays."""
    X, y = pn.make_spiral(50)
    params = pn.init_params([2, 30, 3], seed=3, scale=0.5)
    built = []

    def spy(*args, **kwargs):
        built.append(args)
        raise RuntimeError("not on this machine")

    _as_if_cupy(monkeypatch)
    monkeypatch.setattr(_cupy, "fused_engine", spy)
    for engine in ("auto", "eager"):
        pn.train(params, X, y, steps=3, engine=engine)
    assert not built
    with pytest.warns(RuntimeWarning, match="fused CuPy step is unavailable"):
        pn.train(params, X, y, steps=3, engine="fused")
    assert len(built) == 1


def test_cupy_layer_at_scale_matches_portable_path(xp, device):
    """At the benchmark's size on a GPU (3,000,000 points, hidden 256, float32): a few fused
    steps stay as close to the float64 portable step as the float32 portable step does
    (CuPy only; the 300-point tests above do not reach several forward examples per thread,
    many backward chunks or a grid-stride loop)."""
    _cupy_only(xp)
    n_per_class, hidden, steps = 1_000_000, 256, 4
    X64, y = pn.make_spiral(n_per_class, 3, seed=0, xp=xp, device=device, dtype=xp.float64)
    p64 = pn.init_params([2, hidden, 3], seed=0, xp=xp, device=device, dtype=xp.float64)
    X32 = xp.astype(X64, xp.float32)
    p32 = {k: xp.astype(v, xp.float32) for k, v in p64.items()}
    kw = {"steps": steps, "log_every": 1, "learning_rate": 1.0}
    runners = []

    def recording(*args):
        runners.append(engines.engine_for(*args, engine="fused"))
        return runners[-1]

    fused, h_fused = pn.train(p32, X32, y, engine=recording, **kw)
    assert type(runners[0]).__name__ == "FusedEngine"  # no fallback to the portable step
    assert runners[0].plan.ex > 1 and runners[0].plan.n_chunks > 1
    portable, h_portable = pn.train(p32, X32, y, engine="eager", **kw)
    exact, h_exact = pn.train(p64, X64, y, engine="eager", **kw)
    del X64, X32

    def rel(a, b):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))

    def losses(h):
        return [*h.loss, h.final_loss]

    loss_fused = rel(losses(h_fused), losses(h_exact))
    loss_portable = rel(losses(h_portable), losses(h_exact))
    assert loss_fused <= max(10 * loss_portable, 1e-5), (loss_fused, loss_portable)
    for key in p64:
        ref = to_numpy(exact[key])
        err_fused = rel(to_numpy(fused[key]), ref)
        err_portable = rel(to_numpy(portable[key]), ref)
        assert err_fused <= max(10 * err_portable, 1e-5), (key, err_fused, err_portable)
