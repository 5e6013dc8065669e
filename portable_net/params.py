"""The table of hyperparameters' name until this release: :mod:`portable_net.hyperparameters`
("params" means the weights everywhere else). Importing it still works, with a FutureWarning,
for this release."""

from __future__ import annotations

import warnings

from .constraints import *  # noqa: F403
from .hyperparameters import *  # noqa: F403
from .hyperparameters import __all__ as _names

warnings.warn(
    "portable_net.params is now portable_net.hyperparameters; the old name will be removed in "
    "the next release",
    FutureWarning,
    stacklevel=2,
)

__all__ = list(_names)
