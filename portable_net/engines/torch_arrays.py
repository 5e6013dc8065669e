"""torch's autograd kept out of the hand-written backprop."""

from __future__ import annotations

from typing import Any


def outside_autograd(x: Any) -> Any:
    """x itself, or for a torch tensor that requires grad, ``x.detach()`` (no copy).

    The library computes gradients by hand: arrays that record an autograd graph would make
    every training step extend one graph (memory growing with the steps) and copy warnings.
    """
    if getattr(x, "requires_grad", False) and callable(getattr(x, "detach", None)):
        return x.detach()
    return x
