"""Another backend: the same training on NumPy and on another library's arrays.

Trains the case study's net for 2,000 steps on NumPy and on each other library installed
here (PyTorch, JAX, array-api-strict; float64), passing that library's arrays to the same
functions, and draws each loss curve. The curves agree to rounding for about 900 steps; then
the libraries' different rounding grows and they part by up to about 1e-3 by step 2,000 (the
backends guide shows it over 10,000 steps). array-api-strict computes with NumPy: its curve
is NumPy's.
"""

import importlib.util

import matplotlib.pyplot as plt
import numpy as np

import portable_net as pn

if importlib.util.find_spec("jax"):
    import jax

    jax.config.update("jax_enable_x64", True)  # JAX computes in float32 unless asked

fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
reference = None
for xp in ("numpy", "torch", "jax", "array_api_strict"):
    if not importlib.util.find_spec(xp):
        continue
    X, y = pn.make_spiral(100, 3, seed=0, xp=xp)  # data and weights made in that library
    params = pn.init_params([2, 100, 3], seed=0, xp=xp)
    params, history = pn.train(params, X, y, steps=2000, log_every=50)
    loss = np.asarray(history.loss)
    reference = loss if reference is None else reference
    gap = np.max(np.abs(loss - reference))
    print(
        f"{xp}: {type(params['W1']).__module__}.{type(params['W1']).__name__}, "
        f"final loss {history.final_loss:.6f}, largest difference from NumPy's {gap:.1e}"
    )
    ax.plot(history.steps, loss, label=f"{xp}: final loss {history.final_loss:.6f}", lw=1)
ax.set(xlabel="step", ylabel="loss", yscale="log", title="the case study's net on each backend")
ax.legend()
plt.show()
