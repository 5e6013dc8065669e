"""Dask: train on a spiral held in chunks, without a cluster, and compare with NumPy.

``make_spiral(..., chunks=...)`` builds the data as a Dask array chunk by chunk (the same
points as the in-memory spiral for the seed); ``train`` then computes each step's gradient
chunk by chunk and sums it, on Dask's local threaded scheduler here, or on a cluster with a
``distributed.Client`` (see the Dask guide). Needs ``pip install ".[dask]"``.
"""

import matplotlib.pyplot as plt
import numpy as np

import portable_net as pn

X, y = pn.make_spiral(2000, 3, seed=0, chunks=1500)  # 6,000 rows in 4 chunks
print(f"{type(X).__module__}.{type(X).__name__}, chunks {X.chunks[0]}")
params, history = pn.train(pn.init_params([2, 100, 3], seed=0), X, y, steps=300, log_every=10)

X_np, y_np = pn.make_spiral(2000, 3, seed=0)  # the same points, in memory
_, reference = pn.train(pn.init_params([2, 100, 3], seed=0), X_np, y_np, steps=300, log_every=10)
gap = np.max(np.abs(np.asarray(history.loss) - np.asarray(reference.loss)))
print(f"final loss {history.final_loss:.6f}; largest difference from NumPy's loss {gap:.1e}")

fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
ax.plot(reference.steps, reference.loss, lw=3, alpha=0.4, label="NumPy, in memory")
ax.plot(history.steps, history.loss, lw=1, label="Dask, 4 chunks")
ax.set(xlabel="step", ylabel="loss")
ax.set_title(f"Dask against NumPy: largest difference {gap:.1e}")
ax.legend()
plt.show()
