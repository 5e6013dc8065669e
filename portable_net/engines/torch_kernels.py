"""torch's own kernels for two pieces of the step on the CPU: the ReLU pair and Adam's update.

On torch each operation costs dispatch besides its arithmetic, and each new array fresh
memory, so a step's small operations weigh beside its matrix products even on a large
mini-batch fit (the performance guide has the figures). Two pieces do the same computation
in fewer calls:

- **ReLU**: ``x.clamp_min_(0)`` in place, the output its own cache, and backward
  ``threshold_backward(dout, out, 0)`` written into ``dout`` (``dout`` where the unit is
  active, else 0), instead of a 0/1 mask made by a comparison and a conversion and then
  two multiplications (:func:`portable_net.layers.relu_forward`). The same numbers wherever
  they are finite (the mask's products give -0.0 where these give 0.0, which no later sum
  can tell apart).
- **Adam**: torch's fused kernel (what ``torch.optim.Adam(fused=True)`` runs: the moments, the
  bias corrections and the step in one pass over the parameters) on the one vector of the
  parameters (``flat``, :func:`portable_net.step.on_one_vector`), instead of some fifteen
  whole-vector operations, the L2 term added by ``addcmul_`` (no temporary ``reg * W``).
  The bias corrections are :mod:`portable_net.optim.pieces`'; scikit-learn's placement of
  epsilon (before the correction) is torch's with epsilon divided by ``sqrt(1 - beta_2**t)``.
  The same computation, rounded in another order: within a few units in the last place.

:func:`kernels_for` gives them to torch's arranged step on the CPU (not on a GPU, where
no run has yet compared them), each after a check on this torch that its operations exist
and reproduce the portable piece (:func:`_relu_works`, :func:`_fused_adam_works`);
``engine="core"`` never uses them.
``tests/test_torch_kernels.py`` holds the step with them to the core step, 1e-12 in float64.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable
from types import ModuleType
from typing import Any

from array_api_compat import is_torch_namespace

from ..optim import Adam
from ..optim.pieces import adam_corrections, l2_term
from ..step import Kernels, StepSettings

__all__ = ["kernels_for", "take_rows"]

#: the step counts the fused kernel is given exactly: as a float32 tensor, as torch.optim
#: keeps them (integers exact below 2**24); later counts take optim's update
_MOST_STEPS = 2**24


def relu_forward(xp: ModuleType, x: Any) -> tuple[Any, Any]:
    """max(0, x) in place on the caller's temporary x (H, B); the cache is the output."""
    x.clamp_min_(0.0)
    return x, x


def relu_backward(xp: ModuleType, dout: Any, cache: Any) -> Any:
    """dout (H, B) where the unit was active (its output > 0), else 0. Overwrites ``dout``,
    the caller's own temporary (as :func:`portable_net.layers.relu_backward` does)."""
    import torch

    return torch.ops.aten.threshold_backward.grad_input(dout, cache, 0.0, grad_input=dout)


def fused_adam(opt: Adam) -> Callable[..., Any]:
    """``opt.update``'s computation on one vector of the parameters by torch's fused kernel
    (the same arguments; any other case, ``opt.update`` itself)."""
    import torch

    def update(xp, params, grads, state, learning_rate=None, *, l2=None, in_place=False):
        t = state.step + 1
        if (len(params) != 1 or not in_place or not isinstance(state.step, numbers.Integral)
                or t >= _MOST_STEPS):  # fmt: skip
            return opt.update(xp, params, grads, state, learning_rate, l2=l2, in_place=in_place)
        lr = opt.learning_rate if learning_rate is None else learning_rate
        p, m, v = params[0], state.m[0], state.v[0]
        g, c = grads[0], None if l2 is None else l2[0]
        if isinstance(c, torch.Tensor):
            g.addcmul_(c, p)  # dW += reg * W in one pass (optim's l2_term makes reg * W first)
        else:
            g = l2_term(g, p, c, in_place=True)
        _, bc2_sqrt = adam_corrections(opt, xp, lr, t, p.dtype)
        # torch's kernel: p -= lr / bc1 * m / (sqrt(v) / bc2_sqrt + eps); epsilon before the
        # correction is the same with eps / bc2_sqrt
        eps = opt.epsilon if opt.epsilon_after_correction else opt.epsilon / bc2_sqrt
        count = torch.full((), float(t), dtype=torch.float32)
        torch._fused_adam_([p], [g], [m], [v], [], [count], lr=float(lr), beta1=opt.beta_1,
                           beta2=opt.beta_2, weight_decay=0.0, eps=eps, amsgrad=False,
                           maximize=False)  # fmt: skip
        return [p], state._replace(step=t)

    return update


@functools.cache
def _relu_works() -> bool:
    """Whether this torch has the two operations of the ReLU pair and they give
    :mod:`portable_net.layers`' ReLU values (a few values, zeros and negatives among them)."""
    import array_api_compat.torch as xp
    import torch

    from .. import layers

    x = torch.tensor([[-1.5, 0.0, 2.0], [3.0, -0.5, 1e-300]], dtype=torch.float64)
    dout = torch.tensor([[1.0, 2.0, -3.0], [4.0, 5.0, 6.0]], dtype=torch.float64)
    try:
        out, cache = relu_forward(xp, x.clone())
        grad = relu_backward(xp, dout.clone(), cache)
    except (AttributeError, RuntimeError, NotImplementedError, TypeError):
        return False
    theirs, mask = layers.relu_forward(xp, x.clone())
    return bool(torch.equal(out, theirs)) and bool(
        torch.equal(grad, layers.relu_backward(xp, dout.clone(), mask))
    )


@functools.cache
def _fused_adam_works(dtype: Any) -> bool:
    """Whether this torch has the fused kernel on the CPU for ``dtype`` and it gives the
    portable update's numbers (three updates of a few values, both placements of epsilon)."""
    import array_api_compat.torch as xp
    import torch

    for after in (True, False):
        opt = Adam(0.01, epsilon=1e-3, epsilon_after_correction=after)
        grads = torch.linspace(-2.0, 3.0, 7, dtype=dtype)
        ours = [torch.linspace(-1.0, 1.0, 7, dtype=dtype)]
        theirs = [ours[0].clone()]
        l2 = [torch.linspace(0.0, 0.5, 7, dtype=dtype)]
        a, b = opt.init(xp, ours), opt.init(xp, theirs)
        fused = fused_adam(opt)
        try:
            for k in range(3):
                g = grads * (k + 1)
                ours, a = opt.update(xp, ours, [g.clone()], a, l2=l2, in_place=True)
                theirs, b = fused(xp, theirs, [g.clone()], b, l2=l2, in_place=True)
        except (AttributeError, RuntimeError, NotImplementedError, TypeError):
            return False
        tolerance = 1e-12 if dtype == torch.float64 else 1e-5
        if not torch.allclose(ours[0], theirs[0], rtol=tolerance, atol=tolerance):
            return False
    return True


def kernels_for(xp: ModuleType, packed: list[Any], settings: StepSettings) -> Kernels | None:
    """torch's kernels for the arranged step of ``settings`` on the parameters ``packed``,
    on the CPU (None elsewhere, or where neither piece applies): the ReLU pair for ReLU
    layers, the fused Adam where the update runs on one vector (``settings.flat``) and the
    kernel works here for the parameters' dtype."""
    if not is_torch_namespace(xp) or getattr(packed[0].device, "type", "cpu") != "cpu":
        return None
    relu = (
        (relu_forward, relu_backward) if settings.activation == "relu" and _relu_works() else None
    )
    adam = None
    opt = settings.optimizer
    if isinstance(opt, Adam) and settings.flat and settings.in_place:
        if _fused_adam_works(packed[0].dtype):
            adam = fused_adam(opt)
    return None if relu is None and adam is None else Kernels(activation=relu, adam=adam)


def take_rows(xp: ModuleType) -> Callable[[Any, Any], Any]:
    """``take(x, index) -> x's rows index`` for indices that are never negative (a batch's
    rows): ``xp.take(x, index, axis=0)``; on torch ``index_select`` itself (array-api-compat's
    ``take`` adds three whole-index operations to every call, for negative indices)."""
    if is_torch_namespace(xp):
        import torch

        return lambda x, index: torch.index_select(x, 0, index)
    return functools.partial(xp.take, axis=0)
