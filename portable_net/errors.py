"""The exceptions portable_net raises besides ValueError and TypeError."""

from __future__ import annotations

__all__ = ["NotFittedError", "TrainingDiverged"]


class TrainingDiverged(FloatingPointError):
    """The training loss stopped being finite.

    Attributes ``step`` (the step at which it was seen) and ``loss`` (the value, NaN or inf).
    """

    def __init__(self, step: int, loss: float, learning_rate: float | None = None):
        self.step = step
        self.loss = loss
        self.learning_rate = learning_rate
        hint = f" (learning_rate={learning_rate:g})" if learning_rate is not None else ""
        super().__init__(
            f"training diverged: the loss is {loss} at step {step}; "
            f"try a smaller learning rate{hint}"
        )

    def __reduce__(self):
        return (type(self), (self.step, self.loss, self.learning_rate))


class NotFittedError(ValueError, AttributeError):
    """A :class:`Classifier` was used before :meth:`Classifier.fit`."""
