"""The CS231n neural-network case study, start to end, through portable_net's public API.

    python examples/case_study.py [OUTPUT_DIR]        (needs: pip install ".[plot]")

Draws the spiral, trains the softmax linear classifier (it fails: about 50% accuracy),
then the two-layer ReLU network (it succeeds: about 99%), prints the loss as the case study
does and writes three pictures to OUTPUT_DIR: spiral.png, softmax.png and net.png, and saves
the net to net.npz. Without OUTPUT_DIR it writes to a new temporary directory and prints its
name; the README's pictures are redrawn only when asked: ``python examples/case_study.py docs``.
Add e.g. ``xp="torch"`` to make_spiral and init_params to run it all on another backend.
"""

import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

import portable_net as pn

if len(sys.argv) > 2:
    sys.exit("usage: python examples/case_study.py [OUTPUT_DIR]")
if len(sys.argv) == 2:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
else:
    out = Path(tempfile.mkdtemp(prefix="portable-net-case-study-"))
print(f"writing to {out}")

# the data: 3 spiral arms of 100 points, which no line can separate
X, y = pn.make_spiral(100, 3, seed=0)
fig, ax = plt.subplots(figsize=(5, 5))
pn.plot_data(X, y, ax=ax)
fig.savefig(out / "spiral.png", dpi=80)


def train_and_draw(layer_sizes, steps, log_every, name, title):
    """Train from the case study's initial weights; print its log; save regions + loss."""
    print(f"--- {title}")
    params = pn.init_params(layer_sizes, seed=0)  # weights 0.01 * N(0, 1), zero biases
    params, history = pn.train(
        params, X, y, steps=steps, learning_rate=1.0, reg=1e-3, log_every=log_every
    )
    for step, loss in zip(history.steps, history.loss):
        print(f"iteration {step} loss {loss:f}")
    acc = pn.accuracy(params, X, y)
    print(f"training accuracy: {acc:.2f}")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.6), layout="constrained")
    pn.plot_decision_regions(params, X, y, ax=left)
    pn.plot_loss(history, ax=right)
    fig.suptitle(f"{title}: training accuracy {acc:.2f}")
    fig.savefig(out / name, dpi=80)
    return params


# softmax: scores = X W + b, 200 steps; the regions are three wedges
train_and_draw([2, 3], 200, 10, "softmax.png", "softmax linear classifier")

# the net: h = max(0, X W1 + b1), scores = h W2 + b2, 10,000 steps; the regions follow the arms
params = train_and_draw([2, 100, 3], 10_000, 1000, "net.png", "two-layer net, 100 hidden units")

# keep the net: 'portable-net predict net.npz points.csv' uses it, pn.load reads it back
pn.save(out / "net.npz", params, steps=10_000, learning_rate=1.0, reg=1e-3, seed=0)
print(f"wrote {out / 'spiral.png'}, {out / 'softmax.png'}, {out / 'net.png'}, {out / 'net.npz'}")
