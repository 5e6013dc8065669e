"""Engines: the only place that names an array library or an allocator.

The training loop (:mod:`portable_net.training`) asks for two things:

- :func:`block_for` how many examples a block of the gradient's sum holds on this library
  and device (an allocator's and a library's business, :mod:`.blocks`);
- :func:`engine_for` an :class:`Engine` that runs full-batch steps: ``logged_step`` (one step
  and its loss) and ``stretch`` (steps without the loss, nothing read back by the host).

Engines: :class:`.portable.PortableEngine` (the default: the portable step in a loop, any
library), :mod:`.jax_engine` (the step compiled, a stretch as one compiled loop),
:mod:`.cupy_engine` (fused CUDA kernels from :mod:`.cuda_kernels`, one hidden layer).
Each gives the portable step's numbers. Dask arrays have their own loop,
:mod:`.dask_engine`; :func:`outside_autograd` keeps torch's autograd out of the way.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any, Protocol, TypeVar, cast

from array_api_compat import is_dask_array

from .._backend import backend_name
from ..network import StepData
from ..step import Step, StepSettings
from .blocks import block_for
from .portable import PortableBatches, PortableEngine
from .spiral import chunked_spiral
from .torch_arrays import outside_autograd

__all__ = [
    "ENGINE_NAMES",
    "Engine",
    "EngineFactory",
    "PortableEngine",
    "as_program",
    "as_summary",
    "batch_runner",
    "block_for",
    "chunked_spiral",
    "compiled",
    "engine_for",
    "outside_autograd",
    "prepare_process",
    "own_loop",
    "summarised",
]

#: the names ``train(..., engine=...)`` accepts
ENGINE_NAMES = ("auto", "portable")


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

    ``"portable"``: the portable step. ``"auto"``: the library's own engine where there is
    one (JAX: compiled, any optimiser; CuPy, one hidden layer: fused kernels, SGD only), else
    the portable step. A callable: ``engine(xp, step, settings, packed, state, data)``.
    """
    if callable(engine):
        return engine(xp, step, settings, packed, state, data)
    if engine == "auto":
        name = backend_name(xp)
        if name == "jax":
            from . import jax_engine

            return jax_engine.JaxEngine(step, settings, packed, data)
        if name == "cupy":
            from . import cupy_engine

            # SGD only (classical momentum): other optimisers run the portable step
            if cupy_engine.supported(packed, None, settings):
                try:  # compiles the kernels (once per process and shape)
                    return cupy_engine.fused_engine(xp, step, settings, packed, state, data)
                except Exception as exc:  # an optional engine never stops training
                    warnings.warn(
                        f"the fused CuPy step is unavailable ({type(exc).__name__}: {exc}); "
                        "training with the portable step (the same numbers, slower)",
                        RuntimeWarning,
                        stacklevel=3,
                    )
    return PortableEngine(xp, step, data)


def batch_runner(
    xp: ModuleType,
    device: Any,
    step: Step,
    settings: StepSettings,
    packed: list[Any],
    engine: str | EngineFactory = "auto",
) -> Any:
    """What runs consecutive mini-batches of one epoch, ``runner.run(packed, state, X1,
    onehot_rows, perm, start, count, size, ragged, want, learning_rate=None) -> (packed,
    state, the losses of the steps numbered in want)`` (see
    :class:`.portable.PortableBatches`): on JAX with ``"auto"`` one compiled call, else the
    portable step in a loop (the same numbers)."""
    if engine == "auto" and backend_name(xp) == "jax":
        from . import jax_engine

        return jax_engine.JaxBatches(step, settings, packed, device)
    return PortableBatches(xp, step, device)


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


def prepare_process(xp: ModuleType, float64: bool) -> None:
    """Settings for a process that is the library's own (the ``portable-net`` command), on
    xp's library: on JAX, float64 allowed when asked for and compiled programs kept on disk
    (:func:`.jax_engine.prepare_process`); on other libraries, nothing."""
    if backend_name(xp) == "jax":
        from . import jax_engine

        jax_engine.prepare_process(float64)


def own_loop(X: Any, y: Any) -> Callable[..., Any] | None:
    """The training loop of arrays that bring their own (Dask: lazy and chunked,
    :func:`.dask_engine.train`), or None for in-memory arrays."""
    if is_dask_array(X) or is_dask_array(y):
        from . import dask_engine

        return dask_engine.train
    return None


def is_lazy(*arrays: Any) -> bool:
    """Whether any of the arrays is a chunked lazy one (Dask), trained by its own engine."""
    return any(is_dask_array(a) for a in arrays)


# --- chunked lazy arrays in the estimator (portable_net.Classifier) -------------------------


def lazy_classifier_inputs(X: Any, y: Any) -> tuple[Any, Any, Any]:
    """For ``Classifier.fit`` on chunked lazy arrays: (X floating, y as ``0..K-1``, the
    sorted distinct labels as NumPy), checked (:func:`.dask_engine.classifier_inputs`)."""
    from . import dask_engine

    return dask_engine.classifier_inputs(X, y)


def lazy_predict_proba(params: Any, X: Any) -> Any:
    """Class probabilities of a chunked lazy X, chunk by chunk (lazy)."""
    from . import dask_engine

    return dask_engine.predict_proba(params, X)


def lazy_predict(params: Any, X: Any, classes: Any) -> Any:
    """The labels (from ``classes``, a NumPy array) of a chunked lazy X (lazy)."""
    from . import dask_engine

    return dask_engine.predict(params, X, classes)


def lazy_count_equal(a: Any, b: Any) -> int:
    """How many elements of the chunked lazy array ``a`` equal ``b``'s (computed: one pass)."""
    from . import dask_engine

    return dask_engine.count_equal(a, b)
