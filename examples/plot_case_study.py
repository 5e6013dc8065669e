"""The case study: a linear classifier fails on the spiral, a two-layer net succeeds.

Trains the softmax linear classifier (200 steps) and the two-layer ReLU net (10,000 steps)
of the CS231n case study by full-batch gradient descent, prints their training accuracy and
draws their decision regions side by side. ``python examples/plot_case_study.py`` shows the
figure (needs ``pip install ".[plot]"``); it writes no file.
"""

import matplotlib.pyplot as plt

import portable_net as pn

X, y = pn.make_spiral(100, 3, seed=0)  # 3 arms of 100 points, which no line can separate
fig, axes = plt.subplots(1, 2, figsize=(9, 4.3), layout="constrained")
for ax, sizes, steps, name in [
    (axes[0], [2, 3], 200, "softmax classifier"),
    (axes[1], [2, 100, 3], 10_000, "two-layer net, 100 ReLU units"),
]:
    params, history = pn.train(
        pn.init_params(sizes, seed=0), X, y, steps=steps, learning_rate=1.0, reg=1e-3
    )
    accuracy = pn.accuracy(params, X, y)
    print(f"{name}: loss {history.final_loss:.4f}, training accuracy {accuracy:.2f}")
    pn.plot_decision_regions(params, X, y, ax=ax, resolution=150)
    ax.set_title(f"{name}: accuracy {accuracy:.2f}")
plt.show()
