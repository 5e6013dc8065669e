"""A scikit-learn pipeline: StandardScaler and portable_net's Classifier, cross-validated.

``pn.Classifier`` takes ``MLPClassifier``'s parameter names and follows scikit-learn's
estimator conventions, so it fits in a ``Pipeline``, ``cross_val_score`` and
``GridSearchCV``. On the breast-cancer data (569 tumours, 30 features; shipped with
scikit-learn) this compares its 5-fold cross-validated accuracy with ``MLPClassifier``'s,
same settings, same folds, and draws both per fold.
"""

import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import portable_net as pn
from portable_net.errors import ConvergenceWarning as OurConvergenceWarning

X, y = load_breast_cancer(return_X_y=True)
folds = StratifiedKFold(5, shuffle=True, random_state=0)
settings = dict(hidden_layer_sizes=(50,), alpha=1e-3, max_iter=100, random_state=0)
scores = {}
with warnings.catch_warnings():  # 100 epochs may stop short of convergence: that is fine here
    warnings.simplefilter("ignore", ConvergenceWarning)
    warnings.simplefilter("ignore", OurConvergenceWarning)
    for name, clf in [("portable_net", pn.Classifier(**settings)),
                      ("MLPClassifier", MLPClassifier(**settings))]:  # fmt: skip
        scores[name] = cross_val_score(make_pipeline(StandardScaler(), clf), X, y, cv=folds)
        print(f"{name}: accuracy {scores[name].mean():.3f} +- {scores[name].std():.3f}")

fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
for offset, (name, values) in zip((-0.15, 0.15), scores.items()):
    label = f"{name}: {values.mean():.3f} +- {values.std():.3f}"
    ax.bar([k + offset for k in range(1, 6)], values, width=0.3, label=label)
ax.set(xlabel="fold", ylabel="test accuracy", ylim=(0.85, 1.0), title="5-fold cross-validation")
ax.legend(loc="lower right")
plt.show()
