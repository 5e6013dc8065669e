"""Learning-rate schedules and the no-improvement rule, as scikit-learn's ``MLPClassifier``.

Host-side Python, called once per epoch (or per logged step of :func:`portable_net.train`):
:class:`~portable_net.optim.NoImprovement` is the one count of "training has stopped
improving" (the training loss, the held-out loss, or minus the held-out score),
:class:`LearningRateSchedule` the rate per epoch (``iteration_ends``) and its answer to a
plateau (``trigger_stopping``), and :func:`end_epoch` the one end of an epoch that chains them
in ``MLPClassifier``'s order, for ``train``'s logged steps and the estimators' epochs alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .constraints import SCHEDULE
from .hyperparameters import HYPERPARAMETERS, check, names

__all__ = ["SCHEDULES", "LearningRateSchedule", "NoImprovement", "end_epoch"]

#: the kinds of schedule (``MLPClassifier``'s ``learning_rate``)
SCHEDULES = HYPERPARAMETERS["lr_schedule"].options


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
        self.count = self.count + 1 if value > previous - self.tol else 0
        self.best = value if value < previous else previous  # a NaN is never a best
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
    # the count of epochs without improvement of the training loss (end_epoch's)
    rule: NoImprovement = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # the fields checked against portable_net.hyperparameters, as plain Python values
        for name, key in names(SCHEDULE).items():
            setattr(self, name, check(key, getattr(self, name), SCHEDULE))
        self.learning_rate = float(self.learning_rate_init)
        self.rule = NoImprovement(self.tol, self.n_iter_no_change)

    @property
    def best_loss(self) -> float:
        """Lowest training loss so far (:meth:`end_epoch`'s).

        Examples
        --------
        >>> from portable_net import optim
        >>> schedule = optim.LearningRateSchedule(0.1)
        >>> schedule.end_epoch(0.5, n_samples=10), schedule.best_loss
        (False, 0.5)
        """
        return self.rule.best

    @property
    def no_improvement_count(self) -> int:
        """Consecutive epochs without an improvement of at least ``tol``.

        Examples
        --------
        >>> from portable_net import optim
        >>> schedule = optim.LearningRateSchedule(0.1, tol=0.1)
        >>> [schedule.end_epoch(1.0, n_samples=10) for _ in range(3)]
        [False, False, False]
        >>> schedule.no_improvement_count
        2
        """
        return self.rule.count

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
        _, outcome = end_epoch(self.rule, self, float(loss), self.t + n_samples)
        return outcome == "stop"

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


def end_epoch(
    rule: NoImprovement, schedule: LearningRateSchedule | None, value: float, t: int
) -> tuple[bool, str | None]:
    """The end of one epoch, as ``MLPClassifier``'s ``_fit_stochastic`` ends one: the
    no-improvement count of ``value`` (``_update_no_improvement_count``), the schedule's rate
    after ``t`` samples (``iteration_ends``), and, once the count exceeds its patience, the
    schedule's answer (``trigger_stopping``: the adaptive rate divided by 5 and the count
    started again, else stop). ``schedule`` None is a constant rate.

    Parameters
    ----------
    rule : NoImprovement
        The count, fed ``value``.
    schedule : LearningRateSchedule or None
        The rate's schedule (None: constant).
    value : float
        The epoch's training loss, held-out loss, or minus its held-out score.
    t : int
        Samples seen so far, all epochs together.

    Returns
    -------
    improved : bool
        ``value`` is the best so far.
    outcome : None, "lowered" or "stop"
        Go on; go on at a lower rate; stop.

    Examples
    --------
    >>> from portable_net.optim import LearningRateSchedule, NoImprovement
    >>> from portable_net.schedule import end_epoch
    >>> rule = NoImprovement(tol=0.1, n_iter_no_change=1)
    >>> schedule = LearningRateSchedule(0.1, "adaptive")
    >>> [end_epoch(rule, schedule, 1.0, 10 * i)[1] for i in range(1, 4)]
    [None, None, 'lowered']
    >>> schedule.learning_rate
    0.02
    """
    improved = rule.update(value)
    if schedule is not None:
        schedule.iteration_ends(t)
    if not rule.exhausted:
        return improved, None
    if schedule is not None and not schedule.trigger_stopping():
        rule.count = 0
        return improved, "lowered"
    return improved, "stop"
