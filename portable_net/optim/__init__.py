"""Optimisers: SGD (with momentum or Nesterov's) and Adam, as scikit-learn writes them, built
from small pieces.

Each update is a chain of pieces (:mod:`portable_net.optim.pieces`), one line of the notes
each, acting on one parameter's arrays (in place where the library's arrays are writable,
rebinding where they are not):

- :func:`~portable_net.optim.pieces.l2_term`: the L2 term's gradient, ``dW += reg * W`` (on the weights, not the biases);
- :func:`~portable_net.optim.pieces.decay`: the same term taken on the weights themselves, ``W *= 1 - lr * reg``;
- :func:`~portable_net.optim.pieces.descend`: ``W -= lr * dW``, or a momentum velocity's step;
- :func:`~portable_net.optim.pieces.velocity_step`: momentum's ``v = mu * v - lr * dW``;
- :func:`~portable_net.optim.pieces.adam_moments` and :func:`~portable_net.optim.pieces.adam_step`: Adam's moment estimates and its corrected step.

``SGD.update`` chains ``l2_term``, the rate, ``velocity_step`` and ``descend``; ``Adam.update``
chains ``l2_term``, ``adam_moments``, ``adam_step`` and ``descend``. The faster arrangement of
the training step (``portable_net.engines.fast``) is the same chains called with two
options, not a second implementation: ``folded`` (the gradient already carries the rate,
folded into the loss gradient's scale, and so does the L2 coefficient; plain SGD then chains
``decay`` and ``descend``) and ``in_place`` (the gradients are the step's own temporaries on a
writable library, reused as scratch instead of new arrays).

The optimisers act elementwise on a list of parameter arrays and a list of gradient arrays of
the same shapes, so they do not care how the parameters are laid out. They are written against
the array API standard only (``xp`` is passed in), keep their state on the parameters' library
and device (made with ``xp.zeros_like``), and branch on nothing but Python values fixed for the
run, so an update traces under ``jax.jit``.

An update works in place where the library's arrays are writable (``p -= ...``, ``v *= mu``)
and rebinds where they are not (JAX): the same spelling serves both, and the returned lists
hold the new arrays either way. The caller therefore passes parameters it owns (the training
loop's copies), never a user's arrays; the gradients are left as they are unless ``in_place``.

``opt.init(xp, params) -> state``; ``opt.update(xp, params, grads, state, learning_rate=None)
-> (params, state)``. The states are named tuples (pytrees for JAX), so they can be carried
through ``jax.lax.fori_loop``.

The learning-rate schedules and the no-improvement rule (:class:`LearningRateSchedule`,
:class:`NoImprovement`, host-side Python) live in ``portable_net.schedule`` and are
importable from here.

Examples
--------
Most code passes ``optimizer="adam"`` (or an instance of these classes) and ``lr_schedule``
to :func:`portable_net.train`; used directly, an optimiser updates a list of arrays:

>>> import numpy as np
>>> from portable_net import optim
>>> opt = optim.Adam(learning_rate=0.1)
>>> params = [np.ones(3)]
>>> state = opt.init(np, params)
>>> params, state = opt.update(np, params, [np.ones(3)], state)
>>> params[0].round(6), state.step
(array([0.9, 0.9, 0.9]), 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, NamedTuple

from ..constraints import ADAM
from ..constraints import SGD as SGD_FIELDS
from ..hyperparameters import check
from ..schedule import LearningRateSchedule, NoImprovement
from .pieces import (
    adam_corrections,
    adam_moments,
    adam_step,
    decay,
    descend,
    l2_term,
    velocity_step,
)

__all__ = [
    "Adam",
    "AdamState",
    "LearningRateSchedule",
    "NoImprovement",
    "SGD",
    "SGDState",
]


def _check_fields(optimizer: Any, where: str, names: tuple[str, ...]) -> None:
    """The optimiser's fields (named as the table names them) checked against
    :mod:`portable_net.hyperparameters`, and stored as plain Python numbers."""
    for name in names:
        object.__setattr__(optimizer, name, check(name, getattr(optimizer, name), where))


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
    """State of :class:`~portable_net.optim.SGD`: one velocity per parameter.

    Parameters
    ----------
    velocity : list of arrays
        One velocity per parameter (an empty list without momentum).

    Examples
    --------
    >>> import numpy as np
    >>> from portable_net import optim
    >>> state = optim.SGD(0.1, momentum=0.9).init(np, [np.ones(2), np.ones(3)])
    >>> [v.shape for v in state.velocity]
    [(2,), (3,)]
    """

    velocity: list[Any]


class AdamState(NamedTuple):
    """State of :class:`~portable_net.optim.Adam`: the step count and the moment estimates.

    Parameters
    ----------
    step : int or 0-d array
        Number of updates made so far (0 after ``init``). A Python int, or a 0-d integer
        array when the state is carried through a compiled loop (``jax.lax.fori_loop``
        turns it into one).
    m, v : list of arrays
        First and second moment estimates, one per parameter.

    Examples
    --------
    >>> import numpy as np
    >>> from portable_net import optim
    >>> state = optim.Adam().init(np, [np.ones(2)])
    >>> state.step, state.m[0].shape, state.v[0].shape
    (0, (2,), (2,))
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

    Examples
    --------
    >>> import numpy as np
    >>> import portable_net as pn
    >>> opt = pn.optim.SGD(0.5, momentum=0.9)
    >>> params = [np.ones(2)]
    >>> state = opt.init(np, params)
    >>> params, state = opt.update(np, params, [np.ones(2)], state)
    >>> params[0], state.velocity[0]
    (array([0.5, 0.5]), array([-0.5, -0.5]))

    In training:

    >>> X, y = pn.make_spiral(20, 3)
    >>> opt = pn.optim.SGD(1.0, momentum=0.5, nesterov=True)
    >>> new, history = pn.train(pn.init_params([2, 10, 3]), X, y, steps=5, optimizer=opt)
    >>> history.n_steps
    5
    """

    learning_rate: float
    momentum: float = 0.0
    nesterov: bool = False

    def __post_init__(self) -> None:
        _check_fields(self, SGD_FIELDS, ("learning_rate", "momentum", "nesterov"))
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs a momentum > 0")

    def init(self, xp: ModuleType, params: list[Any]) -> SGDState:
        """Zero velocities on the parameters' library and device (none without momentum).

        Parameters
        ----------
        xp : module
            The parameters' array API namespace.
        params : list of arrays
            The parameters to be updated.

        Returns
        -------
        SGDState
            One zero velocity per parameter, or an empty list without momentum.

        Examples
        --------
        >>> import numpy as np
        >>> from portable_net import optim
        >>> optim.SGD(0.1, momentum=0.9).init(np, [np.ones(2)])
        SGDState(velocity=[array([0., 0.])])
        """
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
        *,
        l2: list[Any] | None = None,
        folded: bool = False,
        in_place: bool = False,
    ) -> tuple[list[Any], SGDState]:
        """One update of every parameter by its gradient.

        Modifies ``params`` and the state's arrays in place where they are writable; returns
        the new parameters and state either way.

        Parameters
        ----------
        xp : module
            The parameters' array API namespace.
        params : list of arrays
            The parameters (arrays the caller owns).
        grads : list of arrays
            Their gradients, same shapes.
        state : SGDState
            From :meth:`init` or the previous update.
        learning_rate : float, 0-d array or None
            Overrides the configured rate for this update (None: the configured one).
        l2 : list or None
            Each parameter's L2 coefficient (:func:`~portable_net.optim.pieces.l2_coefficients`): the L2 term
            ``reg * W`` added to its gradient here. None: the gradients hold it already.
        folded : bool
            The gradients, and the ``l2`` coefficients, already carry the rate (``lr * dW``:
            the fast step folds it into the loss gradient's scale).
        in_place : bool
            The gradients are the caller's temporaries, which the update may overwrite.

        Returns
        -------
        params : list of arrays
            The updated parameters.
        state : SGDState
            The updated velocities.

        Examples
        --------
        >>> import numpy as np
        >>> from portable_net import optim
        >>> opt = optim.SGD(0.1)
        >>> params, state = opt.update(np, [np.ones(2)], [np.ones(2)], opt.init(np, []))
        >>> params
        [array([0.9, 0.9])]
        """
        lr = self.learning_rate if learning_rate is None else learning_rate
        mu = self.momentum
        velocity = state.velocity
        coefs = [None] * len(params) if l2 is None else l2
        _check_lists(params, grads, velocity if mu != 0.0 else list(params), "velocity")
        new_params, new_velocity = [], []
        for j, (p, g, c) in enumerate(zip(params, grads, coefs)):
            if folded and mu == 0.0:  # g is lr * dW, c is lr * reg: the L2 term as a decay
                new_params.append(descend(decay(p, c), g))  # W *= 1 - lr reg; W -= lr * dW
                continue
            if folded:  # lr * (dW + reg * W)
                step = l2_term(g, p, c, in_place=in_place)
            else:
                step = lr * l2_term(g, p, c)  # dW += reg * W; lr * dW, made once
            if mu == 0.0:
                p = descend(p, step)  # W -= lr * dW
            else:
                v = velocity_step(velocity[j], step, mu)  # v = mu v - lr dW
                if self.nesterov:
                    p += mu * v
                    p = descend(p, step)  # W + mu v - lr dW
                else:
                    p += v  # W += v
                new_velocity.append(v)
            new_params.append(p)
        return new_params, SGDState(new_velocity)


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
        The step size ``lr``, positive.
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

    Examples
    --------
    >>> import numpy as np
    >>> import portable_net as pn
    >>> opt = pn.optim.Adam(0.1)
    >>> params = [np.zeros(2)]
    >>> params, state = opt.update(np, params, [np.array([1.0, -1.0])], opt.init(np, params))
    >>> params[0].round(6), state.step
    (array([-0.1,  0.1]), 1)

    In training, with the betas chosen:

    >>> X, y = pn.make_spiral(20, 3)
    >>> opt = pn.optim.Adam(1e-2, beta_1=0.8, beta_2=0.99)
    >>> new, history = pn.train(pn.init_params([2, 10, 3]), X, y, steps=5, optimizer=opt)
    >>> history.optimizer_state.step
    5
    """

    learning_rate: float = 1e-3
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    epsilon_after_correction: bool = True

    def __post_init__(self) -> None:
        names = ("learning_rate", "beta_1", "beta_2", "epsilon")
        _check_fields(self, ADAM, names)
        if not isinstance(self.epsilon_after_correction, bool):
            raise TypeError("epsilon_after_correction must be a bool")

    def init(self, xp: ModuleType, params: list[Any]) -> AdamState:
        """Step 0 and zero moments on the parameters' library and device.

        Parameters
        ----------
        xp : module
            The parameters' array API namespace.
        params : list of arrays
            The parameters to be updated.

        Returns
        -------
        AdamState
            Step count 0, one zero first and second moment per parameter.

        Examples
        --------
        >>> import numpy as np
        >>> from portable_net import optim
        >>> optim.Adam().init(np, [np.ones(2)])
        AdamState(step=0, m=[array([0., 0.])], v=[array([0., 0.])])
        """
        return AdamState(0, [xp.zeros_like(p) for p in params], [xp.zeros_like(p) for p in params])

    def update(
        self,
        xp: ModuleType,
        params: list[Any],
        grads: list[Any],
        state: AdamState,
        learning_rate: Any = None,
        *,
        l2: list[Any] | None = None,
        in_place: bool = False,
    ) -> tuple[list[Any], AdamState]:
        """One update of every parameter by its gradient.

        Modifies ``params`` and the moments in place where they are writable; returns the new
        parameters and state (with the step count advanced by one) either way.

        Parameters
        ----------
        xp : module
            The parameters' array API namespace.
        params : list of arrays
            The parameters (arrays the caller owns).
        grads : list of arrays
            Their gradients, same shapes.
        state : AdamState
            From :meth:`init` or the previous update.
        learning_rate : float, 0-d array or None
            Overrides the configured rate for this update (None: the configured one).
        l2 : list or None
            Each parameter's L2 coefficient (:func:`~portable_net.optim.pieces.l2_coefficients`): the L2 term
            ``reg * W`` added to its gradient here. None: the gradients hold it already.
        in_place : bool
            The gradients are the caller's temporaries on a library whose arrays are
            writable: they are overwritten (used as scratch) instead of making new arrays.

        Returns
        -------
        params : list of arrays
            The updated parameters.
        state : AdamState
            The updated moments and step count.

        Examples
        --------
        >>> import numpy as np
        >>> from portable_net import optim
        >>> opt = optim.Adam()
        >>> params = [np.zeros(1)]
        >>> params, state = opt.update(np, params, [np.ones(1)], opt.init(np, params),
        ...                            learning_rate=0.5)
        >>> params[0].round(6), state.step
        (array([-0.5]), 1)
        """
        lr = self.learning_rate if learning_rate is None else learning_rate
        b1, b2, eps = self.beta_1, self.beta_2, self.epsilon
        _check_lists(params, grads, state.m, "m")
        _check_lists(params, grads, state.v, "v")
        coefs = [None] * len(params) if l2 is None else l2
        t = state.step + 1
        corrections: dict[Any, tuple[Any, Any]] = {}  # per dtype
        new_params, new_m, new_v = [], [], []
        for p, g, m, v, c in zip(params, grads, state.m, state.v, coefs):
            g = l2_term(g, p, c, in_place=in_place)  # dW += reg * W
            m, v = adam_moments(g, m, v, b1, b2, in_place=in_place)
            if p.dtype not in corrections:
                corrections[p.dtype] = adam_corrections(self, xp, lr, t, p.dtype)
            step_size, bc2_sqrt = corrections[p.dtype]
            step = adam_step(xp, m, v, step_size, bc2_sqrt, eps, self.epsilon_after_correction,
                             out=g if in_place else None)  # fmt: skip
            new_params.append(descend(p, step))  # W -= lr m_hat / (sqrt(v_hat) + eps)
            new_m.append(m)
            new_v.append(v)
        return new_params, AdamState(t, new_m, new_v)
