"""JAX: the portable step compiled with ``jax.jit``, a stretch of steps as one ``fori_loop``.

Between two logged steps nothing comes back to the host: the whole stretch runs as one
compiled loop on the device, and only the logged step's loss is read.

On the CPU, a ReLU net with one hidden layer and softmax outputs, unweighted, trained on the
full batch with SGD runs its stretches with the same step in a layout chosen for XLA:CPU
(:func:`_one_hidden_cpu_run`; other activations, outputs and sample weights run the fast
step compiled as it is, with the same numbers): the same layers
and update, but the hidden activations kept batch-major, (B, H), so that both products summed
over the batch (dW2 and dW1b) are plain (K, B) @ (B, H) products, and the first layer's
parameters carried transposed. The portable layout's (H, B) products summed over the batch are
slow in XLA:CPU's library kernels, and its masked (H, B) ReLU gradient is split across
threads, which costs far more than it saves when the other core is busy. A batch of two
blocks or more (:data:`CPU_BLOCK_ELEMENTS`) sums its gradient over blocks of examples in a
``lax.scan``, as NumPy's engine does in a Python loop: each block's temporaries stay in the
caches. Only the order of a few sums differs: the loss after 1000 steps of the case study
agrees with the portable layout's to about 1e-14 (as eager and compiled runs of the portable
step do).
"""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import layers, network
from .._backend import array_namespace
from ..loss import softmax_xent
from ..network import StepData
from ..optim import SGDState
from ..step import Step, StepSettings, cache_key, make_update

# compiled functions by the step's settings and the arrays' shapes (never by a step count):
# runs with the same settings reuse them
_cache: dict[tuple, Any] = {}
_CACHE_SIZE = 8
# the ReLU gradient's (B, K) @ (K, H) product is written out as K broadcast products up to
# this many classes (it then fuses with the mask into one pass); a matmul beyond
_UNROLLED_CLASSES = 8
# The CPU stretch sums a large batch's gradient over blocks of examples whose (b, H)
# activations hold about this many values (2 MiB in float64), summed in a ``lax.scan``: each
# block's few temporaries stay in the caches, where one pass over the whole batch's
# activations goes to memory for each of them (bench/results/per-step-jax-before-after.md)
CPU_BLOCK_ELEMENTS = 2**18
MIN_BLOCK = 64
# XLA:CPU's expensive LLVM passes: they cost compilation time and do not make these small
# programs' steps faster
_COMPILER_OPTIONS = {"xla_llvm_disable_expensive_passes": True}
# programs run once per call (checks, preparation, the end of a run): XLA:CPU's older fusion
# code generation, which compiles faster; the training loops, whose steps run many times,
# keep the newer one, whose steps are faster
_ONCE_OPTIONS = {**_COMPILER_OPTIONS, "xla_cpu_use_fusion_emitters": False}
#: how many times a run of steps was traced (each trace is one compilation, or one load from
#: JAX's persistent cache): a new step count or ``log_every`` traces nothing
traces = 0


def default_cache_dir() -> str:
    """Where :func:`use_compilation_cache` keeps compiled programs by default:
    ``$XDG_CACHE_HOME/portable_net/jax``, else ``~/.cache/portable_net/jax``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "portable_net", "jax")


def use_compilation_cache(directory: str | None = None) -> str:
    """Keep JAX's compiled programs on disk, so that a later process starts warm.

    Opt-in for the library (the ``portable-net`` command turns it on for ``--backend jax``):
    it sets JAX's process-wide ``jax_compilation_cache_dir`` (default
    :func:`default_cache_dir`) and caches every compilation, however short (a training run
    compiles one loop and a few dozen small operations). Call it before the first
    computation on JAX arrays. JAX's own environment variables do the same without code:
    ``JAX_COMPILATION_CACHE_DIR=DIR JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0``.
    Returns the directory.
    """
    directory = default_cache_dir() if directory is None else os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return directory


def setup_process(float64: bool) -> None:
    """For a process that is the library's own (the ``portable-net`` command): float64
    allowed when ``float64`` (JAX's process-wide ``jax_enable_x64``), and compiled programs
    kept on disk (:func:`use_compilation_cache`) so that the next process starts warm:
    ``PORTABLE_NET_JAX_CACHE`` names the directory (default :func:`default_cache_dir`), or is
    "off". Without a writable directory the programs are compiled as usual."""
    if float64:
        jax.config.update("jax_enable_x64", True)
    where = os.environ.get("PORTABLE_NET_JAX_CACHE", "")
    if where.lower() in ("off", "0", "no", "false"):
        return
    try:
        use_compilation_cache(where or None)
    except OSError:
        pass


_programs: dict[tuple, Any] = {}


def program(fn, static_argnums: tuple[int, ...] = ()):
    """``jax.jit(fn)``, one per function: the preparation and the end of a run as one
    compilation each rather than one per operation."""
    key = (fn, static_argnums)
    if key not in _programs:
        _programs[key] = jax.jit(fn, static_argnums=static_argnums, compiler_options=_ONCE_OPTIONS)
    return _programs[key]


def _host_views(args: Any) -> tuple[list[Any], Any] | None:
    """(the JAX arrays among args, args with NumPy views of them) when they all live in
    the host's memory (JAX on the CPU), else None."""
    leaves = [x for x in jax.tree_util.tree_leaves(args) if isinstance(x, jax.Array)]
    if not leaves or any(d.platform != "cpu" for x in leaves for d in x.devices()):
        return None
    return leaves, jax.tree_util.tree_map(
        lambda x: np.asarray(x) if isinstance(x, jax.Array) else x, args
    )


def on_host(fn, static_argnums: tuple[int, ...] = (0,)):
    """``fn(xp, *args)`` (a reduction to a few 0-d values) by NumPy on views of the JAX
    arrays when they all live in the host's memory (JAX on the CPU), else compiled: on the
    CPU, compiling it for each new shape costs more than NumPy's pass over the data."""
    compiled_fn = program(fn, static_argnums)

    def run(xp, *args):
        views = _host_views(args)
        if views is None:
            return compiled_fn(xp, *args)
        return fn(host_namespace(), *views[1])

    return run


def on_host_arrays(fn, static_argnums: tuple[int, ...] = (0,)):
    """``fn(xp, *args)`` returning one array (a forward pass): by NumPy on views of the JAX
    arrays when they all live in the host's memory, the result a JAX array placed as a
    compiled program's would be (committed to the arguments' device if one of them is),
    else compiled. On the CPU, tracing and lowering a forward pass for each new shape (a
    first ``predict``) costs more than NumPy's pass over the rows (the performance guide)."""
    compiled_fn = program(fn, static_argnums)

    def run(xp, *args):
        views = _host_views(args)
        if views is None:
            return compiled_fn(xp, *args)
        leaves, host = views
        out = np.asarray(fn(host_namespace(), *host))
        committed = [x for x in leaves if getattr(x, "committed", False)]
        if committed:
            return jax.device_put(out, next(iter(committed[0].devices())))
        return jnp.asarray(out)

    return run


def host_namespace() -> Any:
    """The standard namespace of NumPy's arrays for :func:`on_host`: NumPy's own from 2.0
    (it implements the standard), else array-api-compat's wrapper. Importing the wrapper
    loads every NumPy submodule, during a JAX user's first fit, for a namespace NumPy already
    is."""
    if int(np.__version__.split(".")[0]) >= 2:
        return np
    from array_api_compat import numpy as np_xp

    return np_xp


def _compiled(step: Step, settings: StepSettings, packed: list[Any]):
    """``run(packed, state, Xt1, onehot, n_steps, lr) -> (packed, state, loss)``, compiled
    once per :func:`portable_net.step.cache_key`: n_steps >= 1 steps, the loss of the first
    (before its update); the trip count and the rate are traced arguments. A logged step is
    ``n_steps=1``, a stretch of n steps the same function with ``n`` (its loss unread): one
    compilation, whatever the step counts, ``log_every`` or a schedule's rates."""
    key = cache_key(settings, packed)
    if key not in _cache:
        cpu_run = _one_hidden_cpu_run(settings, packed)

        def run(packed, state, Xt1, onehot, n_steps, lr):
            global traces
            traces += 1
            if cpu_run is not None:
                return cpu_run(packed, state, Xt1, onehot, n_steps, lr)

            def body(_, carry):
                p, s = carry
                p, s, _ = step(p, s, Xt1, onehot, False, lr)
                return p, s

            packed, state, loss = step(packed, state, Xt1, onehot, True, lr)
            packed, state = jax.lax.fori_loop(0, n_steps - 1, body, (packed, state))
            return packed, state, loss

        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = jax.jit(run, compiler_options=_COMPILER_OPTIONS)
    return _cache[key]


def _one_hidden_cpu_run(settings: StepSettings, packed: list[Any]):
    """The steps for [W1b, W2^T, b2] on the CPU, full batch, SGD, ReLU, softmax outputs,
    unweighted, in the batch-major layout: ``run(packed, state, Xt1, onehot, n_steps, lr) ->
    (packed, state, loss)`` (the loss of the first step, before its update), to be traced;
    or None (then the fast step compiled as it is: the other activations, outputs and
    weighted examples)."""
    # settings.block is not read: these steps sum over blocks of their own (_cpu_blocks)
    if len(packed) != 3 or not settings.folded:
        return None
    if (settings.activation, settings.output, settings.weighted) != ("relu", "softmax", False):
        return None
    if any(d.platform != "cpu" for p in packed for d in p.devices()):
        return None
    xp = array_namespace(*packed)
    update = make_update(xp, packed, settings)
    n_classes = packed[1].shape[0]

    def gradients(W1bT, W2T, b2, Xt1, X_ones, onehot, scale, need_loss):
        """The summed loss (0-d, or 0 unless ``need_loss``) and the gradients of a block of
        examples, Xt1 (D+1, b), X_ones (b, D+1), onehot (K, b), scaled by ``scale`` (the rate
        over the batch's count): ``[loss, dW1b^T, dW2^T, db2]``."""
        # forward: hT = (W1b Xt1)^T (b, H), scores (K, b) as in the portable layout
        hT = X_ones @ W1bT
        rT, maskT = layers.relu_forward(xp, hT)
        scores = W2T @ rT.T
        scores += b2
        loss, dscores = softmax_xent(xp, scores, onehot, scale, need_loss=need_loss)
        # backward: dW2^T = dscores r^T = dscores @ rT, dhT = dscores^T W2^T
        dW2T = dscores @ rT  # (K, H)
        db2 = xp.sum(dscores, axis=1, keepdims=True)  # (K, 1)
        dT = dscores.T  # (B, K)
        if n_classes <= _UNROLLED_CLASSES:
            dhT = dT[:, 0:1] * W2T[0:1, :]
            for k in range(1, n_classes):
                dhT = dhT + dT[:, k : k + 1] * W2T[k : k + 1, :]
        else:
            dhT = dT @ W2T
        drT = layers.relu_backward(xp, dhT, maskT)  # (B, H)
        # (D+1, H), kept as computed: XLA would otherwise fold the transpose into the product
        dW1bT = jax.lax.optimization_barrier(Xt1 @ drT)
        return [xp.zeros((), dtype=W2T.dtype) if loss is None else loss, dW1bT, dW2T, db2]

    def body(W1bT, W2T, b2, velocity, data: Any, learning_rate, need_loss=False):
        full, blocked, n = data
        scale = learning_rate / n
        sums: Any = None
        if full is not None:
            sums = gradients(W1bT, W2T, b2, full[0], full[1], full[2], scale, need_loss)
        if blocked is not None:
            # the batch's sums as sums over blocks (whose temporaries stay in the caches)
            def add(total, block):
                part = gradients(W1bT, W2T, b2, block[0], block[1], block[2], scale, need_loss)
                return [t + g for t, g in zip(total, part, strict=True)], None

            zero = [xp.zeros((), dtype=W2T.dtype), *map(xp.zeros_like, (W1bT, W2T, b2))]
            summed, _ = jax.lax.scan(add, zero, blocked)
            sums = summed if sums is None else [a + b for a, b in zip(summed, sums, strict=True)]
        loss_sum, dW1bT, dW2T, db2 = sums
        if velocity:
            velocity = [velocity[0].T, *velocity[1:]]
        new, state = update(
            [W1bT.T, W2T, b2], SGDState(velocity), [dW1bT.T, dW2T, db2], learning_rate
        )
        velocity = state.velocity
        if velocity:
            velocity = [velocity[0].T, *velocity[1:]]
        return new[0].T, new[1], new[2], velocity, loss_sum

    def run(packed, state, Xt1, onehot, n_steps, lr):
        data = _cpu_blocks(Xt1, onehot, packed[0].shape[0])
        n = Xt1.shape[1]
        loss = network.penalty(xp, packed, settings.n_features, settings.reg_for(n))
        # W1b and its velocity carried transposed, (D+1, H)
        velocity = state.velocity
        v0 = [velocity[0].T, *velocity[1:]] if velocity else []
        *carry, loss_sum = body(packed[0].T, packed[1], packed[2], v0, data, lr, need_loss=True)

        def loop(_, carry):
            W1bT, W2T, b2, v = carry
            return body(W1bT, W2T, b2, v, data, lr)[:4]

        W1bT, W2T, b2, v = jax.lax.fori_loop(0, n_steps - 1, loop, tuple(carry))
        packed = [W1bT.T, W2T, b2]
        return packed, SGDState([v[0].T, *v[1:]] if v else []), loss_sum / n + loss

    return run


def cpu_block_rows(n_hidden: int) -> int:
    """Examples per block of the CPU stretch's gradient sum: blocks whose (b, H) activations
    hold about ``CPU_BLOCK_ELEMENTS`` values."""
    return max(MIN_BLOCK, CPU_BLOCK_ELEMENTS // n_hidden)


def _cpu_blocks(Xt1: Any, onehot: Any, n_hidden: int) -> tuple[Any, Any, int]:
    """The batch for :func:`_one_hidden_cpu_run`'s steps: ``(full, blocked, n)``.

    ``blocked``: equal blocks of :func:`cpu_block_rows` examples, stacked for ``lax.scan``
    (Xt1 (nb, D+1, b), X_ones (nb, b, D+1), onehot (nb, K, b)), or None for a batch of under
    two blocks; ``full``: the rest of the batch whole (the examples after the blocks, or all
    of them), or None. Made once per stretch, outside its loop."""
    n = Xt1.shape[1]
    rows = cpu_block_rows(n_hidden)
    n_blocks = n // rows if n >= 2 * rows else 0
    m = n_blocks * rows

    def stacked(a: Any) -> Any:  # (r, m) -> (nb, r, b)
        return jnp.transpose(a[:, :m].reshape(a.shape[0], n_blocks, rows), (1, 0, 2))

    blocked = None
    if n_blocks:
        xs = stacked(Xt1)
        blocked = (xs, jnp.transpose(xs, (0, 2, 1)), stacked(onehot))
    full = None
    if m < n:
        rest = Xt1[:, m:]
        full = (rest, rest.T, onehot[:, m:])
    return full, blocked, n


def _placed(tree: Any, device: Any) -> Any:
    """The first call's arguments placed alike: left as they are when none or all of them
    are committed to a device (the outputs are placed alike: with none, the programs after
    training, such as the final loss or ``accuracy``, find the compilations of the same
    arguments before training), else all committed to ``device`` (otherwise the second call,
    getting the committed outputs, would compile again)."""
    committed = {bool(getattr(x, "committed", False)) for x in jax.tree_util.tree_leaves(tree)}
    if len(committed) < 2:
        return tree  # the same object
    return jax.device_put(tree, device)


class JaxEngine:
    """The steps of one full-batch run on JAX arrays, compiled (cached across runs by
    :func:`portable_net.step.cache_key`)."""

    def __init__(self, step: Step, settings: StepSettings, packed: list[Any], data: StepData):
        self.device = next(iter(data.Xt1.devices()))
        self.data = data
        self.learning_rate = settings.learning_rate
        self.run = _compiled(step, settings, packed)
        self.placed = False

    def _run(self, packed, state, n_steps: int, learning_rate):
        lr = self.learning_rate if learning_rate is None else learning_rate
        if not self.placed:  # later calls get the compiled outputs, placed alike
            given = (packed, state, (self.data.Xt1, self.data.onehot))
            packed, state, data = _placed(given, self.device)
            self.data = StepData(*data)
            self.placed = True
        return self.run(packed, state, self.data.Xt1, self.data.onehot, n_steps, lr)

    def logged_step(self, packed, state, learning_rate=None):
        """One step that also returns the loss before its update."""
        return self._run(packed, state, 1, learning_rate)

    def stretch(self, packed, state, n_steps: int, learning_rate=None):
        """``n_steps`` steps without the loss, as one compiled loop (the trip count is an
        argument: any count runs the same compiled code)."""
        packed, state, _ = self._run(packed, state, n_steps, learning_rate)
        return packed, state


class JaxBatches:
    """Consecutive mini-batches of one epoch as one compiled call: the epoch's order is drawn
    on the host (as for every library) and each batch gathered in the program; the start,
    the count and the rate are traced arguments, the batch size a static one. Compiled once
    per :func:`portable_net.step.cache_key` and sizes, like :class:`JaxEngine`'s runs.

    The epoch's smaller last batch (``ragged`` examples), when at least half a batch, runs
    in the same copy of the step at the full width: the last ``size`` positions of the
    epoch's order, those before the batch's own weighted 0 (the step's ``weights``: they add
    nothing; the loss and the gradient are the batch's means), its numbers the portable
    loop's to the order of a few sums. One copy of the step compiles faster than two, for at
    most half a batch of extra work per epoch. A smaller last batch gets a second copy of the
    step at its own width."""

    def __init__(self, step: Step, settings: StepSettings, packed: list[Any], device: Any):
        self.learning_rate = settings.learning_rate
        self.device = device
        self.host_perm: Any = None
        self.placed = False
        key = ("batches", *cache_key(settings, packed))
        if key not in _cache:
            if len(_cache) >= _CACHE_SIZE:
                _cache.pop(next(iter(_cache)))
            _cache[key] = jax.jit(
                _batch_run(step), static_argnums=(7, 8), compiler_options=_COMPILER_OPTIONS
            )
        self.compiled = _cache[key]

    def run(self, packed, state, X1, onehot_rows, perm, start, count, size, ragged, want,
            learning_rate=None):  # fmt: skip
        """As :meth:`portable_net.engines.portable.PortableBatches.run`, one compiled call
        (every step's loss is computed; the wanted ones are read at the end, one transfer,
        as Python floats)."""
        lr = self.learning_rate if learning_rate is None else learning_rate
        if size > perm.shape[0]:  # batches larger than the data: every batch is all of it
            start, count, size, ragged = 0, 1, perm.shape[0], 0
        # the last batch's width: padded to the batch size, or (under half a batch) its own
        tail = ragged if 0 < 2 * ragged < size else size
        if not self.placed:
            given = (packed, state, (X1, onehot_rows))
            packed, state = _placed(given, self.device)[:2]
            leaves = jax.tree_util.tree_leaves((packed, state, (X1, onehot_rows)))
            self.committed = any(getattr(x, "committed", False) for x in leaves)
            self.placed = True
        if perm is not self.host_perm:  # once per epoch, placed as the data
            self.host_perm = perm
            perm = perm.astype(_index_dtype())
            self.perm = jax.device_put(perm, self.device if self.committed else None)
        args = (packed, state, X1, onehot_rows, self.perm, start, count, size, tail, ragged, lr)
        packed, state, losses = self.compiled(*args)
        if not want:
            return packed, state, []
        host = np.asarray(losses)
        return packed, state, [float(host[j]) for j in want]


def _index_dtype() -> Any:
    return jax.numpy.int64 if jax.config.jax_enable_x64 else jax.numpy.int32


def _batch_run(step: Step):
    """``run(packed, state, X1, onehot_rows, perm, start, count, size, tail, ragged, lr)``:
    ``size`` and ``tail`` static (``tail == size``: the last batch padded, see
    :class:`JaxBatches`; else its own width, ``tail == ragged``)."""

    def run(packed, state, X1, onehot_rows, perm, start, count, size, tail, ragged, lr):
        global traces
        traces += 1
        n = perm.shape[0]
        padded = tail == size
        columns = jnp.arange(size)

        def batch(lo, width):  # the batch's rows, transposed: (D + 1, B), (K, B)
            idx = jax.lax.dynamic_slice_in_dim(perm, lo, width)
            return jnp.take(X1, idx, axis=0).T, jnp.take(onehot_rows, idx, axis=0).T

        # batch j < count: the size positions from start + j * size; padded, batch count
        # (when ragged > 0) is the epoch's last ragged positions at the same width (the size
        # positions ending the epoch, those before the batch's own weighted 0). Every step
        # computes its batch's loss, into a vector as long as an epoch's steps can be
        def body(j, carry):
            p, s, losses = carry
            if padded:
                last = j == count
                Xt1, onehot = batch(jnp.where(last, n - size, start + j * size), size)
                keep = jnp.where(last, columns >= size - ragged, True)
                weights = keep.astype(X1.dtype)[None, :]  # (1, B)
                p, s, loss = step(p, s, Xt1, onehot * weights, True, lr, weights)
            else:
                p, s, loss = step(p, s, *batch(start + j * size, size), True, lr)
            return p, s, losses.at[j].set(loss)

        losses = jnp.zeros((n // size + 1,), dtype=X1.dtype)
        steps = count + (ragged > 0) if padded else count
        packed, state, losses = jax.lax.fori_loop(0, steps, body, (packed, state, losses))
        if not padded:  # the epoch's last batch, under half a batch: at its own width
            packed, state, last = step(packed, state, *batch(n - tail, tail), True, lr)
            losses = losses.at[count].set(last)
        return packed, state, losses

    return run
