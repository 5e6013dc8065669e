"""JAX: the portable step compiled with ``jax.jit``, a stretch of steps as one ``fori_loop``.

Between two logged steps nothing comes back to the host: the whole stretch runs as one
compiled loop on the device, and only the logged step's loss is read.

On the CPU, a net with one hidden layer trained on the full batch runs its stretches with the
same step in a layout chosen for XLA:CPU (:func:`_one_hidden_cpu_stretch`): the same layers
and update, but the hidden activations kept batch-major, (B, H), so that both products summed
over the batch (dW2 and dA1) are plain (K, B) @ (B, H) products, and the first layer's
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
from .._step import make_update

# compiled functions by the step's settings: runs with the same settings reuse them
_cache: dict[tuple, tuple[Any, Any]] = {}
_CACHE_SIZE = 8
# the ReLU gradient's (B, K) @ (K, H) product is written out as K broadcast products up to
# this many classes (it then fuses with the mask into one pass); a matmul beyond
_UNROLLED_CLASSES = 8


def _compiled(step, packed):
    key = step.key
    if key not in _cache:

        @jax.jit
        def logged(packed, velocity, X1, onehot):
            return step(packed, velocity, X1, onehot, True)

        stretch = _one_hidden_cpu_stretch(step, packed)
        if stretch is None:

            @jax.jit
            def stretch(packed, velocity, X1, onehot, n_steps):
                def body(_, carry):
                    p, v = carry
                    p, v, _ = step(p, v, X1, onehot, False)
                    return p, v

                return jax.lax.fori_loop(0, n_steps, body, (packed, velocity))

        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = (logged, stretch)
    return _cache[key]


def _one_hidden_cpu_stretch(step, packed):
    """The stretch for [A1, W2^T, b2] on the CPU, full batch, in the batch-major layout; or None."""
    settings = step.settings
    n_features, learning_rate = settings["n_features"], settings["learning_rate"]
    reg, momentum = settings["reg"], settings["momentum"]
    if len(packed) != 3 or settings["block"] is not None:
        return None
    if any(d.platform != "cpu" for p in packed for d in p.devices()):
        return None
    xp = array_api_compat.array_namespace(*packed)
    update = make_update(
        xp, packed, n_features=n_features, learning_rate=learning_rate, reg=reg, momentum=momentum
    )
    n_classes = packed[1].shape[0]

    def body(A1T, W2T, b2, velocity, X1, X1T, onehot):
        # forward: hT = (A1 X1)^T (B, H), scores (K, B) as in the portable layout
        hT = X1T @ A1T
        rT, _ = layers.relu_forward(xp, hT)
        scores = W2T @ rT.T
        scores += b2
        _, dscores = layers.softmax_xent_backward(
            xp, scores, onehot, learning_rate / X1.shape[1], need_loss=False
        )
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
        dA1T = jax.lax.optimization_barrier(X1 @ drT)
        if velocity:
            velocity = [velocity[0].T, *velocity[1:]]
        new, velocity = update([A1T.T, W2T, b2], velocity, [dA1T.T, dW2T, db2])
        if velocity:
            velocity = [velocity[0].T, *velocity[1:]]
        return new[0].T, new[1], new[2], velocity

    @jax.jit
    def stretch(packed, velocity, X1, onehot, n_steps):
        X1T = X1.T

        def loop(_, carry):
            A1T, W2T, b2, v = carry
            return body(A1T, W2T, b2, v, X1, X1T, onehot)

        # A1 and its velocity carried transposed, (D+1, H)
        v0 = [velocity[0].T, *velocity[1:]] if velocity else []
        A1T, W2T, b2, v = jax.lax.fori_loop(
            0, n_steps, loop, (packed[0].T, packed[1], packed[2], v0)
        )
        return [A1T.T, W2T, b2], ([v[0].T, *v[1:]] if v else [])

    return stretch


def logged_step(step, packed, velocity, data):
    """One step that also returns the loss before its update."""
    return _compiled(step, packed)[0](packed, velocity, data.X1, data.onehot)


def stretch(step, packed, velocity, data, n_steps: int):
    """``n_steps`` steps without the loss, as one compiled loop."""
    return _compiled(step, packed)[1](packed, velocity, data.X1, data.onehot, n_steps)
