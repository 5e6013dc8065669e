"""The exceptions and warnings portable_net raises besides ValueError and TypeError.

scikit-learn stays optional, and importing portable_net never imports it. Yet a scikit-learn
user must be able to catch our "not fitted" error as ``sklearn.exceptions.NotFittedError``
and filter our warnings as ``ConvergenceWarning`` / ``DataConversionWarning``. Python's
``except`` clause checks real subclassing (``__subclasscheck__`` and ABC registration are not
consulted for exceptions), so the classes we raise must really derive from scikit-learn's.

The resolution: each class here is plain (no scikit-learn base); creating an instance while
scikit-learn is *already imported* (``"sklearn" in sys.modules``) gives an instance of a
subclass that also derives from scikit-learn's class, made once and cached. Code that can
name scikit-learn's class has imported scikit-learn, so it always sees the joint class; code
that has not never pays for importing it. The joint classes are reachable by name
(``portable_net.errors.SklearnNotFittedError`` ...) so that pickling works.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = [
    "ConvergenceWarning",
    "DataConversionWarning",
    "NotFittedError",
    "StopTraining",
    "TrainingDiverged",
    "TrainingInterrupted",
    "TrainingWarning",
]


class TrainingDiverged(FloatingPointError):
    """The training loss stopped being finite.

    Attributes ``step`` (the step at which it was seen) and ``loss`` (the value, NaN or inf).
    """

    def __init__(self, step: int, loss: float, learning_rate: float | None = None):
        self.step = step
        self.loss = loss
        self.learning_rate = learning_rate
        hint = f" (learning_rate={learning_rate:g})" if learning_rate is not None else ""
        super().__init__(
            f"training diverged: the loss is {loss} at step {step}; "
            f"try a smaller learning rate{hint}"
        )

    def __reduce__(self):
        return (type(self), (self.step, self.loss, self.learning_rate))


class StopTraining(Exception):
    """Raise it from a :func:`portable_net.train` callback to end training there: ``train``
    returns normally, with the parameters reached and ``history.stop_reason == "callback"``."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (or another KeyboardInterrupt) during :func:`portable_net.train`.

    A KeyboardInterrupt, so that uncaught it still ends the program. ``__cause__`` is the
    interrupt that arrived.

    Attributes
    ----------
    params : dict of arrays
        Copies of the parameters reached (the last completed step; an in-place library may
        be part-way through the steps between two logged steps).
    history : History
        What was logged until then, with ``optimizer_state``: pass it as ``history=`` to
        :func:`portable_net.train` to continue.
    """

    def __init__(self, params: Any, history: Any):
        super().__init__("training interrupted")
        self.params = params
        self.history = history


class TrainingWarning(RuntimeWarning):
    """Training ended worse than it started (see :func:`portable_net.train`): the rate is
    probably too large."""


# our class name -> (name of the joint class in this module, scikit-learn's class name)
_JOINT = {
    "NotFittedError": ("SklearnNotFittedError", "NotFittedError"),
    "ConvergenceWarning": ("SklearnConvergenceWarning", "ConvergenceWarning"),
    "DataConversionWarning": ("SklearnDataConversionWarning", "DataConversionWarning"),
}
_joint_cache: dict[str, type] = {}


def _joint_class(ours: type) -> type | None:
    """``ours`` joined with scikit-learn's class of the same meaning, or None when
    scikit-learn is not imported (or its class cannot be found)."""
    joint_name, sklearn_name = _JOINT[ours.__name__]
    if joint_name in _joint_cache:
        return _joint_cache[joint_name]
    if "sklearn" not in sys.modules:
        return None
    try:  # sklearn is imported: its exceptions module is cheap (and usually loaded too)
        from sklearn import exceptions
    except Exception:  # a broken or partial install: our plain class serves
        return None
    base = getattr(exceptions, sklearn_name, None)
    if not isinstance(base, type):
        return None
    joint = type(
        ours.__name__,  # what tracebacks and warnings show
        (ours, base),
        {
            "__module__": __name__,
            "__qualname__": joint_name,  # where pickle finds it
            "__doc__": f"{ours.__name__} that is also scikit-learn's {sklearn_name}.",
        },
    )
    _joint_cache[joint_name] = joint
    return joint


class _Joinable:
    """Mixin: instances of the plain class are made as the joint class when possible."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls.__name__ in _JOINT and cls.__module__ == __name__:  # a plain class, not joint
            joint = _joint_class(cls)
            if joint is not None:
                cls = joint
        return super().__new__(cls, *args, **kwargs)


class NotFittedError(_Joinable, ValueError, AttributeError):
    """A :class:`Classifier` was used before :meth:`Classifier.fit`.

    A ValueError and an AttributeError (as scikit-learn's), and, when scikit-learn is
    imported, an instance of ``sklearn.exceptions.NotFittedError`` too.
    """


class ConvergenceWarning(_Joinable, UserWarning):
    """Training stopped at ``max_iter`` epochs before the convergence test was met.

    When scikit-learn is imported, the warning is also ``sklearn.exceptions.ConvergenceWarning``.
    """


class DataConversionWarning(_Joinable, UserWarning):
    """Input was converted in a way the caller may not expect (a column vector y, ...).

    When scikit-learn is imported, the warning is also
    ``sklearn.exceptions.DataConversionWarning``.
    """


def warning_category(category: type) -> type:
    """The class to pass to ``warnings.warn``: the joint class when scikit-learn is imported
    (``warnings.warn`` takes a class, so the ``__new__`` above does not apply)."""
    return _joint_class(category) or category


def __getattr__(name: str) -> type:
    """The joint classes by name (pickle looks them up here); importing scikit-learn."""
    for ours, (joint_name, _) in _JOINT.items():
        if name == joint_name:
            import sklearn.exceptions  # noqa: F401  (unpickling one: scikit-learn was there)

            joint = _joint_class(globals()[ours])
            if joint is not None:
                return joint
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
