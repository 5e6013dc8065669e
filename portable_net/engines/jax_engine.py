"""JAX: the portable step compiled with ``jax.jit``, a stretch of steps as one ``fori_loop``.

Between two logged steps nothing comes back to the host: the whole stretch runs as one
compiled loop on the device, and only the logged step's loss is read.

On the CPU, a net with one hidden layer trained on the full batch runs its stretches with the
same step in a layout chosen for XLA:CPU (:func:`_one_hidden_cpu_stretch`): the same layers
and update, but the hidden activations kept batch-major, (B, H), so that both products summed
over the batch (dW2 and dW1b) are plain (K, B) @ (B, H) products, and the first layer's
parameters carried transposed. The portable layout's (H, B) products summed over the batch are
two to four times slower in XLA:CPU's library kernels, and its masked (H, B) ReLU gradient is
split across threads, which costs far more than it saves when the other core is busy. Only the
order of a few sums differs: the loss after 1000 steps of the case study agrees with the
portable layout's to about 1e-14 (as eager and compiled runs of the portable step do).
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import jax

from .. import layers
from ..loss import softmax_xent
from ..network import StepData
from ..optim import SGDState
from ..step import Step, StepSettings, cache_key, make_update

# compiled functions by the step's settings: runs with the same settings reuse them
_cache: dict[tuple, tuple[Any, Any]] = {}
_CACHE_SIZE = 8
# the ReLU gradient's (B, K) @ (K, H) product is written out as K broadcast products up to
# this many classes (it then fuses with the mask into one pass); a matmul beyond
_UNROLLED_CLASSES = 8


def _compiled(step: Step, settings: StepSettings, packed: list[Any]):
    key = cache_key(settings, packed)
    if key not in _cache:
        # the rate is an argument (traced): a schedule's new rate compiles nothing
        @jax.jit
        def logged(packed, state, Xt1, onehot, lr):
            return step(packed, state, Xt1, onehot, True, lr)

        stretch = _one_hidden_cpu_stretch(settings, packed)
        if stretch is None:

            @jax.jit
            def stretch(packed, state, Xt1, onehot, n_steps, lr):
                def body(_, carry):
                    p, s = carry
                    p, s, _ = step(p, s, Xt1, onehot, False, lr)
                    return p, s

                return jax.lax.fori_loop(0, n_steps, body, (packed, state))

        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = (logged, stretch)
    return _cache[key]


def _one_hidden_cpu_stretch(settings: StepSettings, packed: list[Any]):
    """The stretch for [W1b, W2^T, b2] on the CPU, full batch, SGD, in the batch-major layout;
    or None."""
    if len(packed) != 3 or settings.block is not None or not settings.folds_rate:
        return None
    if any(d.platform != "cpu" for p in packed for d in p.devices()):
        return None
    xp = array_api_compat.array_namespace(*packed)
    update = make_update(xp, packed, settings)
    n_classes = packed[1].shape[0]

    def body(W1bT, W2T, b2, velocity, Xt1, X_ones, onehot, learning_rate):
        # forward: hT = (W1b Xt1)^T (B, H), scores (K, B) as in the portable layout
        hT = X_ones @ W1bT
        rT, _ = layers.relu_forward(xp, hT)
        scores = W2T @ rT.T
        scores += b2
        _, dscores = softmax_xent(xp, scores, onehot, learning_rate / Xt1.shape[1], need_loss=False)
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
        drT = layers.relu_backward(xp, dhT, rT)  # (B, H)
        # (D+1, H), kept as computed: XLA would otherwise fold the transpose into the product
        dW1bT = jax.lax.optimization_barrier(Xt1 @ drT)
        if velocity:
            velocity = [velocity[0].T, *velocity[1:]]
        new, state = update(
            [W1bT.T, W2T, b2], SGDState(velocity), [dW1bT.T, dW2T, db2], learning_rate
        )
        velocity = state.velocity
        if velocity:
            velocity = [velocity[0].T, *velocity[1:]]
        return new[0].T, new[1], new[2], velocity

    @jax.jit
    def stretch(packed, state, Xt1, onehot, n_steps, lr):
        X_ones = Xt1.T  # (B, D+1): the inputs batch-major, with their ones column
        velocity = state.velocity

        def loop(_, carry):
            W1bT, W2T, b2, v = carry
            return body(W1bT, W2T, b2, v, Xt1, X_ones, onehot, lr)

        # W1b and its velocity carried transposed, (D+1, H)
        v0 = [velocity[0].T, *velocity[1:]] if velocity else []
        W1bT, W2T, b2, v = jax.lax.fori_loop(
            0, n_steps, loop, (packed[0].T, packed[1], packed[2], v0)
        )
        return [W1bT.T, W2T, b2], SGDState([v[0].T, *v[1:]] if v else [])

    return stretch


class JaxEngine:
    """The steps of one full-batch run on JAX arrays, compiled (cached across runs by
    :func:`portable_net.step.cache_key`)."""

    def __init__(self, step: Step, settings: StepSettings, packed: list[Any], data: StepData):
        self.data, self.learning_rate = data, settings.learning_rate
        self.logged, self.compiled_stretch = _compiled(step, settings, packed)

    def logged_step(self, packed, state, learning_rate=None):
        """One step that also returns the loss before its update."""
        lr = self.learning_rate if learning_rate is None else learning_rate
        return self.logged(packed, state, self.data.Xt1, self.data.onehot, lr)

    def stretch(self, packed, state, n_steps: int, learning_rate=None):
        """``n_steps`` steps without the loss, as one compiled loop."""
        lr = self.learning_rate if learning_rate is None else learning_rate
        return self.compiled_stretch(packed, state, self.data.Xt1, self.data.onehot, n_steps, lr)
