"""torch's autograd kept out of the hand-written backprop."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import ModuleType
from typing import Any

import array_api_compat

from .._backend import backend_name


def outside_autograd(params: dict[str, Any], X: Any, y: Any) -> tuple[dict[str, Any], Any, Any]:
    """The parameters, X and y (or None) themselves, or for torch tensors that require grad
    ``x.detach()`` (no copy).

    The library computes gradients by hand: arrays that record an autograd graph would make
    every training step extend one graph (memory growing with the steps) and copy warnings.
    """
    if not array_api_compat.is_torch_array(X):
        return params, X, y

    def detached(x: Any) -> Any:
        return x.detach() if getattr(x, "requires_grad", False) else x

    return {k: detached(v) for k, v in params.items()}, detached(X), detached(y)


def bookkeeping_off(xp: ModuleType) -> Callable[[], AbstractContextManager[Any]]:
    """What the training loops run their steps in: for torch, ``torch.inference_mode``
    (no autograd or version-counter bookkeeping per operation, which the steps do not need;
    the same numbers); for other libraries, nothing.

    The steps update the packed parameters and the optimiser's state in place (tensors made
    outside, which stay ordinary tensors); the tensors they make inside are read or copied
    outside (a copy of an inference tensor is an ordinary one), so none reaches the caller.
    """
    if backend_name(xp) == "torch":
        import torch

        return torch.inference_mode
    return contextlib.nullcontext
