"""Your own CSV file: read it, hold out a test set, standardise, train, plot the loss.

Writes scikit-learn's wine data (178 wines, 13 measurements, 3 cultivars; shipped with
scikit-learn) as a CSV file with a header into a temporary directory, then reads, splits and
scales it as ``portable-net train --data wine.csv --label cultivar --test-size 0.25
--standardize`` does, from Python: ``read_table``, the stratified ``split``, the
``Standardizer`` fitted on the training rows; then ``train`` with Adam (where the command
fits a Classifier). Draws the training loss and the held-out accuracy; writes nothing
outside the temporary directory.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_wine

import portable_net as pn
from portable_net.tabular import Standardizer, encode_labels, read_table, split

wine = load_wine()
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "wine.csv"
    header = ",".join([*wine.feature_names, "cultivar"])
    rows = np.column_stack([wine.data, wine.target])
    np.savetxt(path, rows, delimiter=",", header=header, comments="", fmt="%.6g")
    X, labels, names = read_table(path, label="cultivar")  # your file: its path here

print(f"{X.shape[0]} rows, {len(names)} features: {', '.join(names[:3])}, ...")
classes, y = encode_labels(labels)
X_train, X_test, y_train, y_test = split(X, y, 0.25, seed=0)
scaler = Standardizer().fit(X_train)  # the training rows' statistics only
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

params = pn.init_params([X.shape[1], 100, len(classes)], seed=0)
params, history = pn.train(
    params, X_train, y_train, steps=300, optimizer="adam", learning_rate=0.01, log_every=10,
    validation=(X_test, y_test),
)  # fmt: skip
test_accuracy = pn.accuracy(params, X_test, y_test)
print(f"test accuracy {test_accuracy:.3f}")

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
pn.plot_loss(history, ax=left)
left.set_title("training loss")
right.plot(history.steps, history.val_accuracy, marker=".")
right.set(xlabel="step", ylabel="accuracy", ylim=(0, 1.05))
right.set_title(f"held-out accuracy (final: {test_accuracy:.3f})")
plt.show()
