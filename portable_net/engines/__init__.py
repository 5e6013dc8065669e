"""Engines: the only place that names an array library or an allocator.

The training loop (:mod:`portable_net.loop`) asks :func:`step_and_runner` for the step it
calls and, where a library runs stretches of steps its own way, a runner:

- :mod:`.fast`: the step's arrangement per library (the rate folded into the gradient, the
  gradients reused in place, block sums: :func:`block_for`, :mod:`.blocks`), on every library;
- :mod:`.eager`: a full-batch engine that calls the step eagerly;
- :mod:`.jax_engine`: that step compiled, a stretch of steps as one compiled loop;
- :mod:`.cupy_engine`: fused CUDA kernels from :mod:`.cuda_kernels`, one hidden layer
  (``engine="fused"``: not the default until a GPU run has proven them);
- :mod:`.dask_engine`: chunked lazy arrays, each step's gradient summed over the chunks;
- :mod:`.torch_arrays`: torch without autograd's bookkeeping;
- :mod:`.torch_kernels`: torch's own kernels on the CPU for the ReLU pair and Adam's
  update, and its row gather without array-api-compat's handling of negative indices;
- :mod:`.threads`: the intra-op threads of a run (one where more do not pay; a large
  mini-batch fit's timed by its own steps), restored after;
- :mod:`.sparse`: scipy's and torch's sparse inputs, the first layer's product and weight
  gradient computed sparse (the estimators);
- :mod:`.onnx_graph`: ndonnx's lazy arrays, on which the forward pass records an ONNX graph
  (the export, :mod:`portable_net.export`).

Each gives the core step's numbers (:mod:`portable_net.step`), to the order of a few
roundings. A full-batch :class:`Engine` (``logged_step``, ``stretch``) may also be passed as
``train(..., engine=factory)`` (experiments, benchmarks); :func:`engine_for` builds the
library's own.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any, Protocol, TypeVar, cast

from array_api_compat import is_dask_array, is_jax_array, is_torch_namespace

from .._backend import backend_name
from ..network import StepData
from ..step import Step, StepSettings, make_step
from . import fast, torch_kernels
from .blocks import block_for
from .eager import EagerEngine
from .sparse import is_sparse, sparse_inputs
from .spiral import chunked_spiral
from .threads import check_n_jobs, threads_for
from .threads import chooser_for as thread_chooser
from .threads import for_sizes as threads_for_sizes
from .threads import limited as threads_limited
from .torch_arrays import bookkeeping_off, outside_autograd
from .torch_kernels import take_rows

__all__ = [
    "ENGINE_NAMES",
    "Engine",
    "EngineFactory",
    "EagerEngine",
    "as_predictor",
    "as_program",
    "as_summary",
    "block_for",
    "chunked_spiral",
    "bookkeeping_off",
    "check_n_jobs",
    "compiled",
    "engine_for",
    "engine_name",
    "fast",
    "is_lazy",
    "is_sparse",
    "is_traced",
    "keep_compiled_programs",
    "lazy_inputs",
    "outside_autograd",
    "predictor",
    "prepare_process",
    "sparse_inputs",
    "step_and_runner",
    "summarised",
    "take_rows",
    "thread_chooser",
    "threads_for",
    "threads_for_sizes",
    "threads_limited",
]

#: the names ``train(..., engine=...)`` accepts
ENGINE_NAMES = ("auto", "eager", "core", "fused")

#: earlier names of engines, accepted for a release with a FutureWarning
RENAMED = {"portable": "eager"}


class Engine(Protocol):
    """What the training loop needs from an engine (full-batch steps on the run's data)."""

    def logged_step(
        self, packed: list[Any], state: Any, learning_rate: Any = None
    ) -> tuple[list, Any, Any]:
        """One step; also the loss (0-d, on the device) of the parameters it started from.

        ``state`` is the optimiser's (:mod:`portable_net.optim`: ``SGDState``, ``AdamState``);
        ``learning_rate`` (None: the settings' rate) may change between calls."""
        ...

    def stretch(
        self, packed: list[Any], state: Any, n_steps: int, learning_rate: Any = None
    ) -> tuple[list, Any]:
        """``n_steps`` steps without the loss."""
        ...


#: ``factory(xp, step, settings, packed, state, data) -> Engine``: an engine of one's own
#: choice (experiments, benchmarks), passed as ``train(..., engine=factory)``
EngineFactory = Callable[[ModuleType, Step, StepSettings, list[Any], Any, StepData], Engine]


def engine_for(
    xp: ModuleType,
    step: Step,
    settings: StepSettings,
    packed: list[Any],
    state: Any,
    data: StepData,
    engine: str | EngineFactory = "auto",
) -> Engine:
    """The engine of one full-batch run.

    ``"eager"``: the step, eagerly. ``"auto"``: the library's own engine where there is one
    (JAX: compiled, any optimiser), else the step, eagerly. ``"fused"``: CuPy's fused kernels
    (one hidden layer, SGD without Nesterov), with a RuntimeWarning and the eager step if they
    cannot be built: not the default until a recorded GPU run has shown them equal to the step
    and faster (``bench/GPU.md``). A callable: ``engine(xp, step, settings, packed, state,
    data)``.
    """
    if callable(engine):
        return engine(xp, step, settings, packed, state, data)
    name = backend_name(xp)
    if engine == "auto" and name == "jax":
        from . import jax_engine

        return jax_engine.JaxEngine(step, settings, packed, data)
    if engine == "fused" and name == "cupy":
        from . import cupy_engine

        # SGD only (classical momentum): other optimisers run the step eagerly
        if cupy_engine.supported(packed, None, settings):
            try:  # compiles the kernels (once per process and shape)
                return cupy_engine.fused_engine(xp, step, settings, packed, state, data)
            except Exception as exc:  # an optional engine never stops training
                warnings.warn(
                    f"the fused CuPy step is unavailable ({type(exc).__name__}: {exc}); "
                    "training with the eager step (the same numbers, slower)",
                    RuntimeWarning,
                    stacklevel=3,
                )
    return EagerEngine(xp, step, data)


def engine_name(engine: Any) -> Any:
    """``engine=`` checked: a name of :data:`ENGINE_NAMES` (an earlier name translated, with a
    FutureWarning) or an engine factory; ValueError naming the choices otherwise."""
    if callable(engine):
        return engine
    if isinstance(engine, str) and engine in RENAMED:
        warnings.warn(
            f"engine={engine!r} is now engine={RENAMED[engine]!r} (the same step, run eagerly); "
            "the old name will be removed in the next release",
            FutureWarning,
            stacklevel=3,
        )
        return RENAMED[engine]
    if engine not in ENGINE_NAMES:
        raise ValueError(
            f"engine must be one of {', '.join(map(repr, ENGINE_NAMES))} or an engine "
            f"factory, not {engine!r}"
        )
    return engine


def compiled(xp: ModuleType, fn: Callable[..., Any], static_argnums: tuple[int, ...] = ()):
    """``fn`` as one compiled program where the library compiles what it runs (JAX: one
    compilation, cached, instead of one per operation), else ``fn`` itself. ``fn`` must be
    pure (arrays in, arrays out); the ``static_argnums`` arguments are Python values."""
    if backend_name(xp) == "jax":
        from . import jax_engine

        return jax_engine.program(fn, static_argnums)
    return fn


def summarised(
    xp: ModuleType, fn: Callable[..., Any], static_argnums: tuple[int, ...] = (0,)
) -> Callable[..., Any]:
    """``fn(xp, *args)``, a pure function reducing arrays to a few 0-d values (checks, a
    loss, a count), run where it costs least: on JAX arrays in the host's memory, by NumPy
    on views of them (:func:`.jax_engine.on_host`: no compilation for each new shape, NumPy's
    values); on other libraries that compile, as one compiled program; else as it is. The
    ``static_argnums`` arguments (``xp`` among them) are Python values."""
    if backend_name(xp) == "jax":
        from . import jax_engine

        return jax_engine.on_host(fn, static_argnums)
    return compiled(xp, fn, static_argnums=static_argnums)


def predictor(
    xp: ModuleType, fn: Callable[..., Any], static_argnums: tuple[int, ...] = (0,)
) -> Callable[..., Any]:
    """``fn(xp, *args)``, a pure forward pass (arrays in, an array of xp out: predictions),
    run where it costs least: on JAX arrays in the host's memory, by NumPy on views of them,
    the result made a JAX array where the arguments are (:func:`.jax_engine.on_host_arrays`:
    a prediction costs no compilation for each new shape); elsewhere as :func:`compiled`.
    The ``static_argnums`` arguments (``xp`` among them) are Python values."""
    if backend_name(xp) == "jax":
        from . import jax_engine

        return jax_engine.on_host_arrays(fn, static_argnums)
    return compiled(xp, fn, static_argnums=static_argnums)


_F = TypeVar("_F", bound=Callable[..., Any])


def _runs_as(
    run: Callable[..., Callable[..., Any]], python_values: tuple[str, ...]
) -> Callable[[_F], _F]:
    def decorate(fn: _F) -> _F:
        names = list(inspect.signature(fn).parameters)
        if not names or names[0] != "xp":
            raise TypeError(f"{fn.__qualname__} must take the namespace xp first")
        unknown = [name for name in python_values if name not in names]
        if unknown:
            raise TypeError(f"{fn.__qualname__} has no argument {unknown[0]!r}")
        positions = tuple(sorted({0, *(names.index(name) for name in python_values)}))

        @functools.wraps(fn)
        def dispatch(xp: ModuleType, *args: Any) -> Any:
            return run(xp, fn, positions)(xp, *args)

        return cast(_F, dispatch)

    return decorate


def as_program(*python_values: str) -> Callable[[_F], _F]:
    """Decorator: ``fn(xp, *args)``, pure, its arguments passed by position, runs as
    :func:`compiled` runs it on xp's library. ``python_values`` names the arguments that are
    Python values (sizes, flags), not arrays; ``xp`` always is one. A library that compiles
    makes one program for each of their values and traces the arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from portable_net import engines
    >>> @engines.as_program("power")
    ... def powered(xp, x, power):
    ...     return x**power
    >>> powered(np, np.arange(3.0), 2)
    array([0., 1., 4.])
    """
    return _runs_as(compiled, python_values)


def as_summary(*python_values: str) -> Callable[[_F], _F]:
    """Decorator: ``fn(xp, *args)``, a pure reduction to a few 0-d values (checks, a loss, a
    count), its arguments passed by position, runs as :func:`summarised` runs it on xp's
    library; ``python_values`` as for :func:`as_program`."""
    return _runs_as(summarised, python_values)


def as_predictor(*python_values: str) -> Callable[[_F], _F]:
    """Decorator: ``fn(xp, *args)``, a pure forward pass returning an array of xp, its
    arguments passed by position, runs as :func:`forward` runs it on xp's library;
    ``python_values`` as for :func:`as_program`."""
    return _runs_as(predictor, python_values)


def prepare_process(xp: ModuleType, float64: bool) -> None:
    """Settings for a process that is the library's own (the ``portable-net`` command), on
    xp's library: on JAX, float64 allowed when asked for and compiled programs kept on disk
    (:func:`.jax_engine.setup_process`); on other libraries, nothing."""
    if backend_name(xp) == "jax":
        from . import jax_engine

        jax_engine.setup_process(float64)


def keep_compiled_programs(*arrays: Any) -> None:
    """For the estimator's fits: on JAX arrays, JAX's persistent compilation cache on for
    the process, as the command has it (:mod:`.compilation_cache`: ``PORTABLE_NET_JAX_CACHE``
    picks the directory or turns it off); on other libraries, nothing."""
    if any(is_jax_array(a) for a in arrays):
        from . import compilation_cache

        compilation_cache.use_default_cache()


def is_lazy(*arrays: Any) -> bool:
    """Whether any of the arrays is a chunked lazy one (Dask), trained by its own engine."""
    return any([is_dask_array(a) for a in arrays])


def is_traced(*arrays: Any) -> bool:
    """Whether any of the arrays is a symbolic one, being traced into a graph (an ndonnx
    array without values, :mod:`.onnx_graph`): the checks that need values are skipped for
    it (the traced graph's own runtime is given the values)."""
    graphed = [a for a in arrays if type(a).__module__.split(".")[0] == "ndonnx"]
    if not graphed:
        return False  # ndonnx is not imported unless its arrays are here
    from . import onnx_graph

    return any(onnx_graph.is_symbolic(a) for a in graphed)


def lazy_inputs(params: Any, X: Any, y: Any, scheduler: Any, sample_weight: Any = None) -> Any:
    """For chunked lazy ``X``/``y``: ``(xp, device, n_layers, params, data)``, checked, the
    chunks persisted where the steps run (:func:`.dask_engine.check_and_persist`; ``xp``
    the chunks' library on the client, ``device`` None); None for in-memory arrays.
    ``sample_weight``: None, or one weight per row (Dask or NumPy)."""
    if not is_lazy(X, y):
        return None
    from . import dask_engine

    xp, n_layers, params, data = dask_engine.check_and_persist(
        params, X, y, scheduler, sample_weight
    )
    return xp, None, n_layers, params, data


class _Stretches:
    """A full-batch :class:`Engine` as a runner of the loop: a logged step alone, the steps
    between two logged steps as one stretch."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def begin(self, seed: int) -> None:
        pass

    def run(self, packed, state, perm, start, count, size, ragged, want, learning_rate):
        if want:  # full batch: a logged step is a stretch of its own
            packed, state, loss = self.engine.logged_step(packed, state, learning_rate)
            return packed, state, [loss]
        packed, state = self.engine.stretch(packed, state, count, learning_rate)
        return packed, state, []


class _Batched:
    """A mini-batch runner (:class:`.jax_engine.JaxBatches`) with the run's data."""

    def __init__(self, runner: Any, data: tuple[Any, Any]):
        self.runner, self.data = runner, data

    def begin(self, seed: int) -> None:
        pass

    def run(self, packed, state, perm, start, count, size, ragged, want, learning_rate):
        return self.runner.run(packed, state, *self.data, perm, start, count, size, ragged,
                               want, learning_rate)  # fmt: skip


def step_and_runner(
    xp: ModuleType,
    device: Any,
    settings: StepSettings,
    packed: list[Any],
    state: Any,
    data: Any,
    engine: str | EngineFactory = "auto",
    *,
    batch_size: int | None,
    shuffle: bool = True,
    lazy: Any = None,
) -> tuple[Step | None, Any]:
    """``(step, runner)`` for one run: the loop calls ``step`` batch by batch when
    ``runner`` is None, else ``runner.run(packed, state, perm, start, count, size, ragged,
    want, learning_rate) -> (packed, state, losses of the steps numbered in want)``.

    ``"core"``: the step of :mod:`portable_net.step` as the notes write it
    (``settings.textbook``), eagerly: the reference every engine is tested against.
    ``"eager"``: that step with the library's arrangement (:mod:`.fast`: the rate folded in,
    gradients reused, block sums), eagerly, on any library. ``"auto"``: the arranged step,
    compiled on JAX (full batch and mini-batches), fused on CuPy (full batch, one hidden
    layer, SGD without Nesterov, ``engine="fused"`` only until a GPU run has proven the
    kernels), eagerly elsewhere. A factory: its full-batch :class:`Engine` (mini-batches:
    the arranged step, eagerly). Chunked lazy data (``lazy``):
    :class:`.dask_engine.DaskRunner` (mini-batches of pieces of chunks, in a seeded order or,
    without ``shuffle``, in order).
    """
    if engine == "core":
        return make_step(xp, packed, settings.textbook), None
    settings = fast.arranged(xp, settings)
    if lazy is not None:
        from . import dask_engine

        return None, dask_engine.DaskRunner(xp, settings, packed, lazy, batch_size, shuffle)
    by_rows = batch_size is not None
    kernels = torch_kernels.kernels_for(xp, packed, settings) if is_torch_namespace(xp) else None
    step = make_step(xp, packed, settings, kernels)
    if engine == "eager":
        return step, None
    if callable(engine):
        if by_rows:
            return step, None
        return step, _Stretches(engine(xp, step, settings, packed, state, StepData(*data)))
    if backend_name(xp) == "jax":
        from . import jax_engine

        if by_rows:
            return step, _Batched(jax_engine.JaxBatches(step, settings, packed, device), data)
        return step, _Stretches(jax_engine.JaxEngine(step, settings, packed, StepData(*data)))
    if engine == "fused" and not by_rows:
        built = engine_for(xp, step, settings, packed, state, StepData(*data), engine)
        if not isinstance(built, EagerEngine):
            return step, _Stretches(built)
    return step, None


def lazy_classifier_inputs(X: Any, y: Any) -> tuple[Any, Any, Any]:
    """For ``Classifier.fit`` on chunked lazy arrays: (X floating, y as ``0..K-1``, the
    sorted distinct labels as NumPy), checked (:func:`.dask_estimator.classifier_inputs`)."""
    from . import dask_estimator

    return dask_estimator.classifier_inputs(X, y)


def lazy_predict_proba(params: Any, X: Any, proba: Callable[..., Any]) -> Any:
    """Class probabilities of a chunked lazy X, ``proba(params, chunk)`` chunk by chunk
    (lazy)."""
    from . import dask_estimator

    return dask_estimator.predict_proba(params, X, proba)


def lazy_predict(params: Any, X: Any, classes: Any, proba: Callable[..., Any]) -> Any:
    """The labels (from ``classes``, a NumPy array) of a chunked lazy X, ``proba(params,
    chunk)`` chunk by chunk (lazy)."""
    from . import dask_estimator

    return dask_estimator.predict(params, X, classes, proba)


def lazy_count_equal(a: Any, b: Any) -> int:
    """How many elements of the chunked lazy array ``a`` equal ``b``'s (computed: one pass)."""
    from . import dask_estimator

    return dask_estimator.count_equal(a, b)


def __getattr__(name: str) -> Any:
    # PortableEngine is EagerEngine's earlier name (kept for a release)
    if name == "PortableEngine":
        warnings.warn(
            "portable_net.engines.PortableEngine is now EagerEngine; the old name will be "
            "removed in the next release",
            FutureWarning,
            stacklevel=2,
        )
        return EagerEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
