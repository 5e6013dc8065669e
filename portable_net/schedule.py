"""Learning-rate schedules and the no-improvement rule, as scikit-learn's ``MLPClassifier``.

Host-side Python, called once per epoch (or per logged step of :func:`portable_net.train`):
:class:`~portable_net.optim.NoImprovement` is the one rule for "has training stopped improving" (the training
loss, the held-out loss, or minus the held-out score), :class:`LearningRateSchedule` the rate
per epoch and when the schedule ends training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .params import HYPERPARAMETERS, SCHEDULE, check, names

__all__ = ["SCHEDULES", "LearningRateSchedule", "NoImprovement"]

#: the kinds of schedule (``MLPClassifier``'s ``learning_rate``)
SCHEDULES = HYPERPARAMETERS["lr_schedule"].options


def _no_improvement(value: float, best: float, count: int, tol: float) -> tuple[float, int]:
    """The rule, once: ``(best, count)`` after an epoch whose value is ``value``."""
    count = count + 1 if value > best - tol else 0
    return min(value, best), count


@dataclass
class NoImprovement:
    """``MLPClassifier``'s count of epochs without improvement (lower values are better).

    An epoch counts as no improvement when its value is not below the best so far by more
    than ``tol`` (``value > best - tol``); an improving epoch resets the count to 0. The
    rule is exhausted when the count exceeds ``n_iter_no_change``: ``n_iter_no_change + 1``
    epochs in a row without improvement.

    Parameters
    ----------
    tol : float
        The improvement that counts.
    n_iter_no_change : int
        Epochs without improvement tolerated (the count must exceed it).

    Examples
    --------
    >>> from portable_net.optim import NoImprovement
    >>> rule = NoImprovement(tol=0.1, n_iter_no_change=1)
    >>> [rule.update(v) for v in (1.0, 0.95, 0.93)], rule.count, rule.exhausted
    ([True, True, True], 2, True)
    """

    tol: float = 1e-4
    n_iter_no_change: int = 10
    best: float = field(init=False, default=math.inf)
    count: int = field(init=False, default=0)

    def update(self, value: float) -> bool:
        """Record one epoch's value.

        Parameters
        ----------
        value : float
            The epoch's loss (or minus its score): lower is better.

        Returns
        -------
        bool
            True when it is a new best (the lowest so far).

        Examples
        --------
        >>> from portable_net.optim import NoImprovement
        >>> rule = NoImprovement(tol=0.0, n_iter_no_change=2)
        >>> rule.update(1.0), rule.update(2.0), rule.count
        (True, False, 1)
        """
        previous = self.best
        self.best, self.count = _no_improvement(value, self.best, self.count, self.tol)
        return self.best < previous

    @property
    def exhausted(self) -> bool:
        """True once ``count > n_iter_no_change``.

        Examples
        --------
        >>> from portable_net.optim import NoImprovement
        >>> rule = NoImprovement(tol=0.5, n_iter_no_change=1)
        >>> [rule.update(1.0) or rule.exhausted for _ in range(3)]
        [True, False, True]
        """
        return self.count > self.n_iter_no_change


@dataclass
class LearningRateSchedule:
    """The learning rate per epoch, and when to stop, as scikit-learn's ``MLPClassifier``.

    Host-side and plain Python: read ``learning_rate`` for the coming epoch, and call
    :meth:`end_epoch` with the epoch's mean training loss and its number of samples; it returns
    True when training should stop.

    At the end of each epoch (in ``MLPClassifier``'s order):

    1. the no-improvement count goes up by one if ``loss > best_loss - tol``, else back to 0;
       ``best_loss`` becomes ``loss`` if lower;
    2. ``invscaling``: ``learning_rate = learning_rate_init / (t + 1) ** power_t``, where
       ``t`` is the number of samples seen so far (the count of all epochs' samples);
    3. if the count exceeds ``n_iter_no_change`` (so ``n_iter_no_change + 1`` epochs in a
       row without improvement): ``constant`` and ``invscaling`` stop; ``adaptive`` stops if
       ``learning_rate <= 1e-6``, else divides the rate by 5 and resets the count to 0.

    ``constant`` with any optimiser is what ``MLPClassifier`` does for ``solver="adam"`` too
    (its stopping rule is the same). With ``tol=-inf`` (or ``n_iter_no_change`` large) it
    never stops.

    Parameters
    ----------
    learning_rate_init : float
        The first epoch's rate.
    kind : {"constant", "invscaling", "adaptive"}, default "constant"
        How the rate changes over the epochs (above).
    power_t : float, default 0.5
        Exponent for ``invscaling``.
    tol : float, default 1e-4
        Improvement of the training loss that counts.
    n_iter_no_change : int, default 10
        Epochs without improvement tolerated (the count must exceed it).

    Attributes
    ----------
    learning_rate : float
        The rate for the coming epoch.
    t : int
        Samples seen so far (scikit-learn's ``t_``).
    best_loss : float
        Lowest training loss so far.
    no_improvement_count : int
        Consecutive epochs without an improvement of at least ``tol``.

    Examples
    --------
    >>> from portable_net import optim
    >>> schedule = optim.LearningRateSchedule(0.1, "adaptive", n_iter_no_change=1)
    >>> [schedule.end_epoch(1.0, n_samples=10) for _ in range(3)]
    [False, False, False]
    >>> schedule.learning_rate
    0.02

    In training, ``lr_schedule`` names the kind:

    >>> import portable_net as pn
    >>> X, y = pn.make_spiral(20, 3)
    >>> new, history = pn.train(pn.init_params([2, 10, 3]), X, y, steps=4, log_every=1,
    ...                         lr_schedule="invscaling")
    >>> history.learning_rate[0], history.learning_rate[-1] < 1.0
    (1.0, True)
    """

    learning_rate_init: float
    kind: str = "constant"
    power_t: float = 0.5
    tol: float = 1e-4
    n_iter_no_change: int = 10
    # the rate for the coming epoch
    learning_rate: float = field(init=False)
    # samples seen so far (scikit-learn's t_)
    t: int = field(init=False, default=0)
    # lowest training loss so far
    best_loss: float = field(init=False, default=math.inf)
    # consecutive epochs without an improvement of at least tol
    no_improvement_count: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        # the fields checked against portable_net.params, as plain Python values
        for name, key in names(SCHEDULE).items():
            setattr(self, name, check(key, getattr(self, name), SCHEDULE))
        self.learning_rate = float(self.learning_rate_init)

    def end_epoch(self, loss: float, n_samples: int) -> bool:
        """Record one epoch's mean training loss; return True if training should stop.

        Parameters
        ----------
        loss : float
            The epoch's training loss (a Python float: the caller decides when to sync).
        n_samples : int
            Samples in the epoch (for ``invscaling``'s sample count).

        Returns
        -------
        bool
            True when training should stop.

        Examples
        --------
        >>> from portable_net import optim
        >>> schedule = optim.LearningRateSchedule(0.1, "invscaling", power_t=0.5)
        >>> schedule.end_epoch(0.9, n_samples=3)
        False
        >>> schedule.learning_rate
        0.05
        """
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive int, got {n_samples!r}")
        loss = float(loss)
        # MLPClassifier._update_no_improvement_count (training loss)
        self.best_loss, self.no_improvement_count = _no_improvement(
            loss, self.best_loss, self.no_improvement_count, self.tol
        )
        self.iteration_ends(self.t + n_samples)
        if self.no_improvement_count > self.n_iter_no_change:
            if self.trigger_stopping():
                return True
            self.no_improvement_count = 0
        return False

    def iteration_ends(self, t: int) -> None:
        """Set the rate after ``t`` samples seen (``SGDOptimizer.iteration_ends``).

        Only ``invscaling`` changes it, to ``learning_rate_init / (t + 1) ** power_t``. For
        callers that keep their own no-improvement count
        (:class:`~portable_net.optim.NoImprovement`), as :class:`portable_net.Classifier`
        does; :meth:`end_epoch` calls it.

        Parameters
        ----------
        t : int
            Samples seen so far, all epochs together.

        Examples
        --------
        >>> from portable_net import optim
        >>> schedule = optim.LearningRateSchedule(0.1, "invscaling", power_t=0.5)
        >>> schedule.iteration_ends(3)
        >>> schedule.learning_rate
        0.05
        """
        self.t = t
        if self.kind == "invscaling":
            self.learning_rate = float(self.learning_rate_init) / (t + 1) ** self.power_t

    def trigger_stopping(self) -> bool:
        """Answer training that stopped improving (``SGDOptimizer.trigger_stopping``).

        ``adaptive`` divides the rate by 5 and goes on, until the rate is at most 1e-6; the
        others stop.

        Returns
        -------
        bool
            True when training should stop.

        Examples
        --------
        >>> from portable_net import optim
        >>> schedule = optim.LearningRateSchedule(0.1, "adaptive")
        >>> schedule.trigger_stopping(), schedule.learning_rate
        (False, 0.02)
        >>> optim.LearningRateSchedule(0.1).trigger_stopping()
        True
        """
        if self.kind != "adaptive" or self.learning_rate <= 1e-6:
            return True
        self.learning_rate /= 5.0
        return False
