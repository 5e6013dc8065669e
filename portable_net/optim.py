"""Gradient descent with optional classical momentum, as a pure update.

``W -= lr * dW`` updates in place where the library's arrays are writable and rebinds where
they are not (JAX): one spelling serves both.  It is safe because the training loop works on
its own copies of the parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

State = dict[str, Any]


def init_state(xp: ModuleType, params: Mapping[str, Any], momentum: float) -> State:
    """Velocities, zero, one per parameter; none without momentum."""
    if momentum == 0.0:
        return {}
    return {k: xp.zeros_like(v) for k, v in params.items()}


def sgd_update(
    params: dict[str, Any],
    grads: Mapping[str, Any],
    state: State,
    *,
    learning_rate: float,
    momentum: float,
) -> tuple[dict[str, Any], State]:
    """One step: ``p -= lr * g``, or with momentum ``v = mu v - lr g; p += v``."""
    new_params, new_state = {}, {}
    for k, p in params.items():
        g = grads[k]
        if momentum == 0.0:
            p -= learning_rate * g
        else:
            v = state[k]
            v *= momentum
            v -= learning_rate * g
            p += v
            new_state[k] = v
        new_params[k] = p
    return new_params, new_state
