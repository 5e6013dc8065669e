"""What the output layer's values decide: each row's label and each class's probability.

The output layer's values ``out`` (N, K) come from :func:`portable_net.loss.output`; these
read them the one way that the estimators' ``predict`` and ``predict_proba``, the command
line and the ONNX export's graph all share.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

__all__ = ["decide", "output_probabilities"]


def decide(xp: ModuleType, out: Any, classes: Any, output: str) -> Any:
    """The label of each row from the output layer's values ``out`` (N, K), as
    :func:`portable_net.model.decided_labels` says (the estimators' ``predict``, the ONNX export)."""
    if output == "logistic":  # (N, 1): class 1 where its probability is above 0.5
        above = out[:, 0] > 0.5
        if classes is None:
            return xp.astype(above, xp.argmax(out, axis=1).dtype)  # the default integer
        return xp.where(above, classes[-1], classes[0])  # one class: always that class
    index = xp.argmax(out, axis=1)
    return index if classes is None else xp.take(classes, index, axis=0)


def output_probabilities(xp: ModuleType, out: Any, output: str, multilabel: bool) -> Any:
    """Each class's probability from the output layer's values ``out`` (N, K): two classes'
    one logistic output p as ``[1 - p, p]`` (N, 2); softmax and multilabel outputs as they are
    (:func:`portable_net.model.class_probabilities`; the ONNX export's graph)."""
    if output == "logistic" and not multilabel:
        return xp.concat([1.0 - out, out], axis=1)
    return out
