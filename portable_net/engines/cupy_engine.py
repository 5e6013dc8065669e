"""CuPy: the fused step of :mod:`.cuda_kernels`, three kernel launches per step.

An optional engine over the portable step, for nets with one hidden layer trained full-batch
on CuPy arrays (``train(..., engine="auto")``, the default); it reproduces the portable
step's numbers (tested against it on the GPU, and on the CPU through a serial emulation of the
same kernel source). What it buys over the portable path on a GPU:

- no cuBLAS calls, no temporaries of the activations: three kernels, whatever N and H;
- the buffers (dscores, losses, partial sums) are made once per run and reused;
- no host synchronisation between logged steps;
- optionally (``graph_steps``), the steps between two logged steps replayed as a CUDA graph
  of ``graph_steps`` steps, captured once per run on the engine's own stream. Off by default
  until a GPU benchmark shows that it pays (``bench`` measures both, passing
  ``engine=functools.partial(fused_engine, graph_steps=16)`` to ``train``).

Kernel launch parameters (grid and chunk sizes) are decided once per run by :class:`Plan`.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ..network import StepData, penalty
from ..optim import SGD, SGDState
from ..step import StepSettings
from . import cuda_kernels

# largest shapes the kernels keep in registers (per-thread arrays of D1 and K values)
MAX_D1 = 64
MAX_K = 64

THREADS_PER_BLOCK = 256
# backward: aim for about this many threads, (H + 1) per chunk of examples
TARGET_THREADS = 2**17
MIN_CHUNK = 32
MAX_GRID = 2**16  # grid-stride loops cover the rest
# forward: examples per thread (each parameter read then serves that many), from this many
# examples on; one per thread below (more threads for small batches)
FORWARD_EXAMPLES = 4
FORWARD_EXAMPLES_FROM = 2**16


def supported(packed: list[Any], batch_size: int | None, settings: Any = None) -> bool:
    """Whether the fused step applies: one hidden layer, full batch, float32/64, small D1, K,
    and (with ``settings``) SGD with no or classical momentum, ReLU hidden units, softmax
    outputs and no sample weights: the kernels implement that step only; other optimisers
    (Adam, Nesterov), activations, outputs and weighted examples run the step eagerly, by
    design."""
    if batch_size is not None or len(packed) != 3:
        return False
    if settings is not None:
        opt = settings.optimizer
        if not isinstance(opt, SGD) or opt.nesterov:
            return False
        if (settings.activation, settings.output, settings.weighted) != ("relu", "softmax", False):
            return False
    d1, k = packed[0].shape[1], packed[1].shape[0]
    return str(packed[0].dtype) in ("float32", "float64") and d1 <= MAX_D1 and k <= MAX_K


@dataclass(frozen=True)
class Plan:
    """Launch geometry of one run: N examples, D1 inputs (with the ones row), H units, K."""

    n: int
    d1: int
    h: int
    k: int
    ex: int = 1  # examples per forward thread

    @classmethod
    def for_batch(
        cls, n: int, d1: int, h: int, k: int, forward_examples: int | None = None
    ) -> Plan:
        """``forward_examples``: examples per forward thread from FORWARD_EXAMPLES_FROM
        examples on (default FORWARD_EXAMPLES)."""
        ex = FORWARD_EXAMPLES if forward_examples is None else forward_examples
        ex = ex if n >= FORWARD_EXAMPLES_FROM else 1
        return cls(n=n, d1=d1, h=h, k=k, ex=max(1, int(ex)))

    @property
    def chunk(self) -> int:
        """Examples per backward thread."""
        chunks = max(1, TARGET_THREADS // (self.h + 1))
        return max(MIN_CHUNK, -(-self.n // chunks))

    @property
    def n_chunks(self) -> int:
        return -(-self.n // self.chunk)

    def grid(self, threads: int) -> int:
        return max(1, min(MAX_GRID, -(-threads // THREADS_PER_BLOCK)))

    @property
    def forward_grid(self) -> int:
        return self.grid(-(-self.n // self.ex))

    @property
    def backward_grid(self) -> int:
        return self.grid(self.n_chunks * (self.h + 1))

    @property
    def update_grid(self) -> int:
        return self.grid(self.h * self.d1 + self.k * self.h + self.k)


_modules: dict[tuple, Any] = {}


def _kernels(dtype: str, plan: Plan) -> dict[str, Any]:
    """The compiled kernels for this dtype and shape (cached per process)."""
    import cupy

    key = (dtype, plan.d1, plan.h, plan.k, plan.ex, cupy.cuda.Device().id)
    if key not in _modules:
        code = cuda_kernels.source(dtype, plan.d1, plan.h, plan.k, plan.ex)
        _modules[key] = cupy.RawModule(code=code, options=("--std=c++17",))
    module = _modules[key]
    return {name: module.get_function(name) for name in cuda_kernels.SIGNATURES}


class FusedEngine:
    """One run's fused steps: ``logged_step`` and ``stretch``, as the training loop needs them.

    ``kernels`` maps kernel names to callables ``(grid_tuple, block_tuple, args_tuple)``: CuPy's
    RawKernel convention. The tests pass a CPU emulation with NumPy arrays instead.
    """

    def __init__(
        self,
        xp: ModuleType,
        settings: StepSettings,
        packed: list[Any],
        data: StepData,
        *,
        kernels: dict[str, Any] | None = None,
        contiguous: Any = None,
        scalar: Any = None,
        graph_steps: int = 0,
        forward_examples: int | None = None,
    ):
        self.xp = xp
        self.n_features = settings.n_features
        self.reg = settings.reg
        W1b, W2 = packed[0], packed[1]
        self.dtype = str(W1b.dtype)
        self.plan = Plan.for_batch(
            data.n, W1b.shape[1], W1b.shape[0], W2.shape[0], forward_examples
        )
        device = getattr(W1b, "device", None)
        # CuPy launches on the current device: make it the arrays' one around every launch
        self._device_scope = device if hasattr(device, "__enter__") else None
        with self._on_device():
            self.kernels = kernels if kernels is not None else _kernels(self.dtype, self.plan)
        if contiguous is None:
            import cupy

            contiguous = cupy.ascontiguousarray
        # the kernels index C-contiguous arrays; the packed layout's transposes may not be
        self.contiguous = contiguous
        self.Xt1, self.onehot = contiguous(data.Xt1), contiguous(data.onehot)
        # numpy scalar types for the kernels' scalar arguments
        import numpy as np

        self.T = scalar or (np.float32 if self.dtype == "float32" else np.float64)
        self.i32 = np.int32
        reg, mu = settings.reg, getattr(settings.optimizer, "momentum", 0.0)  # SGD only
        self.n = data.n
        self.use_momentum = self.i32(mu > 0.0)
        self.momentum = self.T(mu)
        self.decays = self.i32(reg != 0.0)
        self.rate = None
        self._set_rate(settings.learning_rate)
        p = self.plan
        kw = {"dtype": W1b.dtype, "device": device}
        self.dscores = xp.empty((p.k, p.n), **kw)
        self.losses = xp.empty((p.n,), **kw)
        self.partial = xp.empty((p.n_chunks, p.h + 1, p.k + p.d1), **kw)
        self.graph_steps = graph_steps
        self.graph: Any = None
        self.graph_error: str | None = None
        self.stream: Any = None
        self._cached_key: tuple | None = None
        self._cached: list = []

    # --- the step --------------------------------------------------------------------------
    def _set_rate(self, lr: Any) -> None:
        """The kernels' scalars for the rate ``lr`` (a schedule may change it between logged
        steps): the launches and any captured graph are remade."""
        if lr is None or lr == self.rate:
            return
        lr = float(lr)
        self.rate = lr
        self.scale = self.T(lr / self.n)
        self.lr_reg = self.T(lr * self.reg)
        self._cached_key, self._cached = None, []
        self.graph = None

    def _launches(self, packed: list[Any], velocity: list[Any], need_loss: bool) -> list:
        """(kernel, grid, block, args) of the step's three launches, made once per set of
        arrays: the step updates them in place, so the same arguments serve every step."""
        key = (need_loss, *map(id, packed), *map(id, velocity))
        if self._cached_key == key:
            return self._cached
        p, k = self.plan, self.kernels
        W1b, W2, b2 = packed
        vW1b, vW2, vb2 = velocity if velocity else packed  # not touched without momentum
        block = (THREADS_PER_BLOCK,)
        n, need, n_chunks = self.i32(p.n), self.i32(need_loss), self.i32(p.n_chunks)
        forward = (W1b, W2, b2, self.Xt1, self.onehot, self.scale, n, need, self.dscores,
                   self.losses)  # fmt: skip
        backward = (W1b, W2, self.Xt1, self.dscores, n, self.i32(p.chunk), n_chunks,
                    self.partial)  # fmt: skip
        update = (W1b, W2, b2, vW1b, vW2, vb2, self.partial, n_chunks, self.use_momentum,
                  self.momentum, self.decays, self.lr_reg)  # fmt: skip
        launches = [
            (k["pn_forward"], (p.forward_grid,), block, forward),
            (k["pn_backward"], (p.backward_grid,), block, backward),
            (k["pn_update"], (p.update_grid,), block, update),
        ]
        self._cached_key, self._cached = key, launches
        return launches

    def _launch(self, packed: list[Any], velocity: list[Any], need_loss: bool) -> Any:
        (fwd, fg, fb, fa), (bwd, bg, bb, ba), (upd, ug, ub, ua) = self._launches(
            packed, velocity, need_loss
        )
        fwd(fg, fb, fa)
        bwd(bg, bb, ba)
        loss = None
        if need_loss:  # before the update: the loss of the parameters the step started from
            loss = self.xp.sum(self.losses) / self.plan.n + penalty(
                self.xp, packed, self.n_features, self.reg
            )
        upd(ug, ub, ua)
        return loss

    def _own(self, arrays: list[Any]) -> list[Any]:
        """C-contiguous arrays (copies made on the first call only; the loop owns them)."""
        return [self.contiguous(a) for a in arrays]

    def logged_step(self, packed: list[Any], state: Any, learning_rate: Any = None):
        """One step that also returns the loss before its update (0-d, on the device).
        ``state``: an :class:`~portable_net.optim.SGDState` (or its list of velocities)."""
        self._set_rate(learning_rate)
        packed, velocity = self._own(packed), self._own(_velocity(state))
        with self._on_device(), self._on_stream():
            loss = self._launch(packed, velocity, True)
        return packed, _same_kind(state, velocity), loss

    def stretch(self, packed: list[Any], state: Any, n_steps: int, learning_rate: Any = None):
        """``n_steps`` steps without the loss; nothing comes back to the host."""
        self._set_rate(learning_rate)
        packed, velocity = self._own(packed), self._own(_velocity(state))
        with self._on_device(), self._on_stream():
            left = n_steps
            g = self.graph_steps
            if g and left >= g and self.graph_error is None:
                graph = self._graph(packed, velocity)
                if graph is not None:
                    while left >= g:
                        graph.launch(self.stream)
                        left -= g
            for _ in range(left):
                self._launch(packed, velocity, False)
        return packed, _same_kind(state, velocity)

    # --- devices, streams and graphs (CuPy only) -----------------------------------------------
    def _on_device(self):
        import contextlib

        return self._device_scope if self._device_scope is not None else contextlib.nullcontext()

    def _on_stream(self):
        """Run on the engine's own stream when graphs are on, ordered after (and before) the
        caller's stream by events, without host synchronisation."""
        import contextlib

        if not self.graph_steps or self.graph_error is not None:
            return contextlib.nullcontext()
        return _StreamScope(self)

    def _graph(self, packed, velocity):
        if self.graph is None:
            stream = self.stream
            try:
                stream.begin_capture()
                try:
                    for _ in range(self.graph_steps):
                        self._launch(packed, velocity, False)
                finally:
                    graph = stream.end_capture()
                self.graph = graph
            except Exception as exc:  # capture unsupported here: launch step by step
                self.graph_error = f"{type(exc).__name__}: {exc}"
                return None
        return self.graph


def _velocity(state: Any) -> list[Any]:
    return list(state.velocity) if isinstance(state, SGDState) else list(state)


def _same_kind(state: Any, velocity: list[Any]) -> Any:
    return SGDState(velocity) if isinstance(state, SGDState) else velocity


class _StreamScope:
    def __init__(self, engine: FusedEngine):
        self.engine = engine

    def __enter__(self):
        import cupy

        r = self.engine
        if r.stream is None:
            r.stream = cupy.cuda.Stream(non_blocking=True)
        self.caller = cupy.cuda.get_current_stream()
        r.stream.wait_event(self.caller.record())  # after the caller's queued work
        r.stream.__enter__()
        return r.stream

    def __exit__(self, *exc):
        r = self.engine
        r.stream.__exit__(*exc)
        self.caller.wait_event(r.stream.record())  # the caller's later work after ours
        return False


def fused_engine(xp, step, settings, packed, state, data, *, graph_steps: int = 0,
                 forward_examples: int | None = None) -> FusedEngine:  # fmt: skip
    """The fused steps of one training run on CuPy arrays (an :data:`EngineFactory`; the
    packed params are the loop's own). ``graph_steps``: steps per captured CUDA graph in a
    stretch (0: the kernels launched one by one)."""
    return FusedEngine(
        xp,
        settings,
        packed,
        data,
        graph_steps=graph_steps,
        forward_examples=forward_examples,
    )
