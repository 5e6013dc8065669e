"""scikit-learn's handwritten digits: a net trained with Adam generalises on every backend."""

import numpy as np
import pytest

import portable_net as pn
from portable_net.preprocessing import Standardizer, split
from tests._helpers import assert_on

datasets = pytest.importorskip("sklearn.datasets")


def test_adam_reaches_96_percent_on_a_held_out_quarter_of_the_digits(xp, device):
    digits = datasets.load_digits()
    X_tr, X_te, y_tr, y_te = split(digits.data, digits.target, 0.25, 0)
    scaler = Standardizer().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    cast = lambda a: xp.asarray(a, device=device)  # noqa: E731
    params = {k: cast(v) for k, v in pn.init_params([64, 64, 10], seed=0).items()}
    # mini-batches of 200: 7 steps an epoch, 40 epochs
    out, hist = pn.train(
        params, cast(X_tr), cast(y_tr), optimizer="adam", learning_rate=2e-3, reg=1e-4,
        steps=280, batch_size=200, log_every=70,
    )  # fmt: skip
    assert_on(out["W1"], xp, device)
    acc = pn.accuracy(out, cast(X_te), cast(y_te))
    print(f"digits test accuracy: {acc:.4f}")
    assert acc >= 0.96
    assert hist.loss[-1] < hist.loss[0] / 5
    assert np.isfinite(hist.final_loss)
