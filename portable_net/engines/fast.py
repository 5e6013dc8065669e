"""The fast arrangement of the one step: which of the step's arranging settings a library
gets (:class:`portable_net.step.StepSettings`; the step itself is :mod:`portable_net.step`'s,
on every library).

- ``folded``: for SGD, the rate folded into the loss gradient's scale, so that the backward
  pass yields ``lr * dW`` and the update is one subtraction (every library);
- ``in_place``: the update reuses the step's own gradient arrays as scratch, where the
  library's arrays are writable (:data:`WRITABLE`; a compiler fuses JAX's anyway);
- ``flat``: Adam's update run once on one vector of all the parameters (their arrays views
  of it), where slices are views (:data:`VIEWS`): its 15 or so operations once instead of
  once per parameter (SGD's two per parameter gain nothing from it);
- ``block``: examples per block of the gradient's sum, chosen per library and allocator by
  :mod:`.blocks` (the training loop sets it from :func:`.blocks.block_for`).

Each changes nothing but the order of a few roundings: ``tests/test_step.py`` holds the
arranged step to the step without them (``train(..., engine="core")``) to 1e-12 in float64.
"""

from __future__ import annotations

import dataclasses
from types import ModuleType

from .._backend import backend_name
from ..optim import SGD, Adam
from ..step import StepSettings

__all__ = ["VIEWS", "WRITABLE", "arranged"]

#: libraries whose slices and reshapes of a contiguous array are views, written through: the
#: update may run on one vector of the parameters (``flat``)
VIEWS = ("numpy", "torch")

#: libraries whose arrays the step may overwrite (``a[...] = b``, ``a *= c``); elsewhere (JAX)
#: the updates are written as new arrays
WRITABLE = ("numpy", "array_api_strict", "torch", "cupy")


def arranged(xp: ModuleType, settings: StepSettings) -> StepSettings:
    """``settings`` with the arrangement of xp's library: the rate folded in for SGD, the
    gradients reused in place where the library's arrays are writable, Adam's update on one
    vector where slices are views (the block as given)."""
    return dataclasses.replace(
        settings,
        folded=isinstance(settings.optimizer, SGD),
        in_place=backend_name(xp) in WRITABLE,
        flat=isinstance(settings.optimizer, Adam) and backend_name(xp) in VIEWS,
    )
