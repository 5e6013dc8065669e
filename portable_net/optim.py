"""Optimisers and learning-rate schedules.

The optimisers act elementwise on a list of parameter arrays and a list of gradient arrays of
the same shapes (the gradients already hold any L2 term), so they do not care how the
parameters are laid out. They are written against the array API standard only (``xp`` is
passed in), keep their state on the parameters' library and device (made with
``xp.zeros_like``), and branch on nothing but Python values fixed for the run, so an update
traces under ``jax.jit``.

An update works in place where the library's arrays are writable (``p -= ...``, ``v *= mu``)
and rebinds where they are not (JAX): the same spelling serves both, and the returned lists
hold the new arrays either way. The caller therefore passes arrays it owns (the training loop's
copies), never a user's arrays.

``opt.init(xp, params) -> state``; ``opt.update(xp, params, grads, state, learning_rate=None)
-> (params, state)``. The states are named tuples (pytrees for JAX), so they can be carried
through ``jax.lax.fori_loop``.

The schedules (:class:`LearningRateSchedule`) are host-side Python, called once per epoch,
and follow scikit-learn's ``MLPClassifier`` (``learning_rate`` = ``constant``,
``invscaling``, ``adaptive``) including its rule for stopping when the training loss stops
improving.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, NamedTuple

__all__ = ["Adam", "AdamState", "LearningRateSchedule", "SGD", "SGDState"]


def _check_rate(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a positive float, not {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite float, got {value!r}")


def _check_fraction(name: str, value: Any, *, closed_right: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float, not {type(value).__name__}")
    ok = 0.0 <= value <= 1.0 if closed_right else 0.0 <= value < 1.0
    if not ok:
        interval = "[0, 1]" if closed_right else "[0, 1)"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")


def _check_lists(params: list[Any], grads: list[Any], buffers: list[Any], what: str) -> None:
    # Python-only checks (lengths), no array is touched: safe on the hot path and under jit
    if len(grads) != len(params):
        raise ValueError(
            f"grads must hold one array per parameter: {len(params)} parameters, "
            f"{len(grads)} gradients"
        )
    if len(buffers) != len(params):
        raise ValueError(
            f"state.{what} holds {len(buffers)} arrays for {len(params)} parameters; "
            "make the state with init() on these parameters"
        )


class SGDState(NamedTuple):
    """State of :class:`SGD`: one velocity per parameter (an empty list without momentum)."""

    velocity: list[Any]


class AdamState(NamedTuple):
    """State of :class:`Adam`.

    Attributes
    ----------
    step : int or 0-d array
        Number of updates made so far (0 after ``init``). A Python int, or a 0-d integer
        array when the state is carried through a compiled loop (``jax.lax.fori_loop``
        turns it into one).
    m, v : list of arrays
        First and second moment estimates, one per parameter.
    """

    step: Any
    m: list[Any]
    v: list[Any]


@dataclass(frozen=True)
class SGD:
    """Stochastic gradient descent with classical or Nesterov momentum.

    With velocity ``v`` (zero at the start), rate ``lr`` and momentum ``mu``, one update is::

        momentum == 0:   p <- p - lr g
        classical:       v <- mu v - lr g;   p <- p + v
        nesterov:        v <- mu v - lr g;   p <- p + mu v - lr g

    This is scikit-learn's ``MLPClassifier`` formulation (and the CS231n notes'), in which the
    velocity holds the rate and points downhill. ``torch.optim.SGD`` (dampening 0) keeps
    ``b <- mu b + g`` and steps ``p <- p - lr b`` (classical) or ``p <- p - lr (g + mu b)``
    (Nesterov): with a constant rate the two are the same computation, ``v = -lr b``. Where
    the rate changes between updates (a schedule), the new rate here scales only the new
    gradient, as in ``MLPClassifier``, whereas torch would rescale the whole buffer.

    Parameters
    ----------
    learning_rate : float
        The step size ``lr``, positive.
    momentum : float, default 0.0
        ``mu`` in [0, 1).
    nesterov : bool, default False
        Nesterov's momentum (needs ``momentum > 0``).
    """

    learning_rate: float
    momentum: float = 0.0
    nesterov: bool = False

    def __post_init__(self) -> None:
        _check_rate("learning_rate", self.learning_rate)
        _check_fraction("momentum", self.momentum)
        if not isinstance(self.nesterov, bool):
            raise TypeError(f"nesterov must be a bool, not {type(self.nesterov).__name__}")
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs a momentum > 0")

    def init(self, xp: ModuleType, params: list[Any]) -> SGDState:
        """Zero velocities on the parameters' library and device (none without momentum)."""
        if self.momentum == 0.0:
            return SGDState([])
        return SGDState([xp.zeros_like(p) for p in params])

    def update(
        self,
        xp: ModuleType,
        params: list[Any],
        grads: list[Any],
        state: SGDState,
        learning_rate: Any = None,
    ) -> tuple[list[Any], SGDState]:
        """One update; ``learning_rate`` (a float or a 0-d array) overrides the configured one.

        Modifies ``params`` and the state's arrays in place where they are writable; returns
        the new parameters and state either way.
        """
        lr = self.learning_rate if learning_rate is None else learning_rate
        mu = self.momentum
        velocity = state.velocity
        _check_lists(params, grads, velocity if mu != 0.0 else list(params), "velocity")
        new_params, new_velocity = [], []
        for j, (p, g) in enumerate(zip(params, grads)):
            step = lr * g  # lr g, made once
            if mu == 0.0:
                p -= step
            else:
                v = velocity[j]
                v *= mu
                v -= step  # v = mu v - lr g
                if self.nesterov:
                    p += mu * v
                    p -= step  # p + mu v - lr g
                else:
                    p += v
                new_velocity.append(v)
            new_params.append(p)
        return new_params, SGDState(new_velocity)

    def update_scaled(
        self,
        xp: ModuleType,
        params: list[Any],
        steps: list[Any],
        state: SGDState,
        decay: list[Any] | None = None,
    ) -> tuple[list[Any], SGDState]:
        """One update from gradients already multiplied by the rate (the training loop's fast
        path: it folds the rate into the gradient's 1/N scale), with L2 as weight decay.

        The same update as :meth:`update` with ``g = steps / lr + reg p``, rearranged so that
        it costs two in-place operations per parameter without momentum::

            p <- p (1 - lr reg) - s                      (momentum == 0)
            v <- mu v - s - lr reg p;   p <- p + v       (classical)
            u = s + lr reg p;  v <- mu v - u;   p <- p + mu v - u     (Nesterov)

        Parameters
        ----------
        steps : list of arrays
            ``lr * g_data`` per parameter (without the L2 term).
        decay : list or None
            Per parameter, ``lr * reg`` (a float, or an array broadcasting against the
            parameter, e.g. 0 on bias entries) or None for no decay; None: no decay at all.
            Make it once per rate with :meth:`weight_decay`.
        """
        mu = self.momentum
        velocity = state.velocity
        _check_lists(params, steps, velocity if mu != 0.0 else list(params), "velocity")
        decay = [None] * len(params) if decay is None else decay
        new_params, new_velocity = [], []
        for j, (p, s) in enumerate(zip(params, steps)):
            d = decay[j]
            if mu == 0.0:
                if d is not None:
                    p *= d[1]  # 1 - lr reg
                p -= s
            elif not self.nesterov:
                v = velocity[j]
                v *= mu
                v -= s
                if d is not None:
                    v -= d[0] * p  # v = mu v - lr (g + reg p)
                p += v
                new_velocity.append(v)
            else:
                u = s if d is None else s + d[0] * p  # lr (g + reg p)
                v = velocity[j]
                v *= mu
                v -= u
                p += mu * v
                p -= u
                new_velocity.append(v)
            new_params.append(p)
        return new_params, SGDState(new_velocity)

    @staticmethod
    def weight_decay(learning_rate: Any, reg: float, masks: list[Any]) -> list[Any]:
        """The ``decay`` argument of :meth:`update_scaled`: per parameter ``(lr reg m,
        1 - lr reg m)`` for its mask ``m`` (1 on weights, 0 on biases; a float or an
        array), or None where there is nothing to decay."""
        out = []
        for m in masks:
            if reg == 0.0 or (isinstance(m, float) and m == 0.0):
                out.append(None)
            else:
                c = learning_rate * reg * m
                out.append((c, 1.0 - c))
        return out


@dataclass(frozen=True)
class Adam:
    """Adam, with bias correction exactly as ``torch.optim.Adam`` (no amsgrad, no decay).

    With step count ``t`` (1 at the first update), one update is::

        m <- beta_1 m + (1 - beta_1) g
        v <- beta_2 v + (1 - beta_2) g**2
        p <- p - lr / (1 - beta_1**t) * m / (sqrt(v) / sqrt(1 - beta_2**t) + epsilon)

    (epsilon is added after the bias correction, as torch does; scikit-learn's
    ``AdamOptimizer`` adds it before, ``lr sqrt(1 - beta_2**t) / (1 - beta_1**t) * m /
    (sqrt(v) + epsilon)``, which differs only where ``sqrt(v)`` is near epsilon.)

    The step count in the state may be a Python int, or a 0-d array (traced inside a compiled
    loop): then the bias corrections are computed on the device, in each parameter's dtype.

    Parameters
    ----------
    learning_rate : float, default 1e-3
    beta_1 : float, default 0.9
        Decay of the first moment, in [0, 1).
    beta_2 : float, default 0.999
        Decay of the second moment, in [0, 1).
    epsilon : float, default 1e-8
        Added to the denominator, >= 0.
    epsilon_after_correction : bool, default True
        True: torch's placement of epsilon (above). False: scikit-learn's,
        ``p <- p - lr sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + epsilon)``
        (what :class:`portable_net.Classifier` uses, as ``MLPClassifier``).
    """

    learning_rate: float = 1e-3
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    epsilon_after_correction: bool = True

    def __post_init__(self) -> None:
        _check_rate("learning_rate", self.learning_rate)
        _check_fraction("beta_1", self.beta_1)
        _check_fraction("beta_2", self.beta_2)
        if isinstance(self.epsilon, bool) or not isinstance(self.epsilon, (int, float)):
            raise TypeError(f"epsilon must be a float, not {type(self.epsilon).__name__}")
        if not (math.isfinite(self.epsilon) and self.epsilon >= 0):
            raise ValueError(f"epsilon must be a finite float >= 0, got {self.epsilon!r}")
        if not isinstance(self.epsilon_after_correction, bool):
            raise TypeError("epsilon_after_correction must be a bool")

    def init(self, xp: ModuleType, params: list[Any]) -> AdamState:
        """Step 0 and zero moments on the parameters' library and device."""
        return AdamState(0, [xp.zeros_like(p) for p in params], [xp.zeros_like(p) for p in params])

    def update(
        self,
        xp: ModuleType,
        params: list[Any],
        grads: list[Any],
        state: AdamState,
        learning_rate: Any = None,
    ) -> tuple[list[Any], AdamState]:
        """One update; ``learning_rate`` (a float or a 0-d array) overrides the configured one.

        Modifies ``params`` and the moments in place where they are writable; returns the new
        parameters and state (with the step count advanced by one) either way.
        """
        lr = self.learning_rate if learning_rate is None else learning_rate
        b1, b2, eps = self.beta_1, self.beta_2, self.epsilon
        _check_lists(params, grads, state.m, "m")
        _check_lists(params, grads, state.v, "v")
        t = state.step + 1
        host_step = isinstance(t, numbers.Integral)
        after = self.epsilon_after_correction
        if host_step:
            # Python floats, as torch (and scikit-learn) compute them from a host-side count
            if after:
                step_size = lr / (1.0 - b1**t)
                bc2_sqrt = math.sqrt(1.0 - b2**t)
            else:
                step_size = lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        corrections: dict[Any, tuple[Any, Any]] = {}
        new_params, new_m, new_v = [], [], []
        for p, g, m, v in zip(params, grads, state.m, state.v):
            m *= b1
            m += (1.0 - b1) * g  # m = b1 m + (1 - b1) g
            v *= b2
            v += (1.0 - b2) * (g * g)  # v = b2 v + (1 - b2) g^2
            if not host_step:
                # a traced step count: the corrections on the device, in this dtype
                if p.dtype not in corrections:
                    tf = xp.astype(t, p.dtype)
                    corrections[p.dtype] = (
                        lr / (1.0 - b1**tf),
                        xp.sqrt(1.0 - b2**tf),
                    )
                step_size, bc2_sqrt = corrections[p.dtype]
                if not after:
                    step_size = step_size * bc2_sqrt
            if after:
                p -= step_size * m / (xp.sqrt(v) / bc2_sqrt + eps)
            else:
                p -= step_size * m / (xp.sqrt(v) + eps)
            new_params.append(p)
            new_m.append(m)
            new_v.append(v)
        return new_params, AdamState(t, new_m, new_v)


_SCHEDULES = ("constant", "invscaling", "adaptive")


@dataclass
class LearningRateSchedule:
    """The learning rate per epoch, and when to stop, as scikit-learn's ``MLPClassifier``.

    Host-side and plain Python: read :attr:`learning_rate` for the coming epoch, and call
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
    power_t : float, default 0.5
        Exponent for ``invscaling``.
    tol : float, default 1e-4
        Improvement of the training loss that counts.
    n_iter_no_change : int, default 10
    """

    learning_rate_init: float
    kind: str = "constant"
    power_t: float = 0.5
    tol: float = 1e-4
    n_iter_no_change: int = 10
    #: the rate for the coming epoch
    learning_rate: float = field(init=False)
    #: samples seen so far (scikit-learn's ``t_``)
    t: int = field(init=False, default=0)
    #: lowest training loss so far
    best_loss: float = field(init=False, default=math.inf)
    #: consecutive epochs without an improvement of at least ``tol``
    no_improvement_count: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        _check_rate("learning_rate_init", self.learning_rate_init)
        if self.kind not in _SCHEDULES:
            raise ValueError(f"kind must be one of {', '.join(_SCHEDULES)}, got {self.kind!r}")
        if isinstance(self.power_t, bool) or not isinstance(self.power_t, (int, float)):
            raise TypeError(f"power_t must be a float, not {type(self.power_t).__name__}")
        if isinstance(self.tol, bool) or not isinstance(self.tol, (int, float)):
            raise TypeError(f"tol must be a float, not {type(self.tol).__name__}")
        if math.isnan(self.tol):
            raise ValueError("tol must not be NaN")
        n = self.n_iter_no_change
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n_iter_no_change must be an int >= 1, got {n!r}")
        self.learning_rate = float(self.learning_rate_init)

    def end_epoch(self, loss: float, n_samples: int) -> bool:
        """Record one epoch's mean training loss; return True if training should stop.

        Parameters
        ----------
        loss : float
            The epoch's training loss (a Python float: the caller decides when to sync).
        n_samples : int
            Samples in the epoch (for ``invscaling``'s sample count).
        """
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive int, got {n_samples!r}")
        loss = float(loss)
        self.t += n_samples
        # MLPClassifier._update_no_improvement_count (training loss)
        if loss > self.best_loss - self.tol:
            self.no_improvement_count += 1
        else:
            self.no_improvement_count = 0
        if loss < self.best_loss:
            self.best_loss = loss
        # SGDOptimizer.iteration_ends
        if self.kind == "invscaling":
            self.learning_rate = float(self.learning_rate_init) / (self.t + 1) ** self.power_t
        if self.no_improvement_count > self.n_iter_no_change:
            # SGDOptimizer.trigger_stopping
            if self.kind != "adaptive" or self.learning_rate <= 1e-6:
                return True
            self.learning_rate /= 5.0
            self.no_improvement_count = 0
        return False
