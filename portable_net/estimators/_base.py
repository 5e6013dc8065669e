"""scikit-learn's estimator protocol (as its ``BaseEstimator``): the constructor's arguments
as parameters (``get_params``, ``set_params``), a repr that shows those not at their
defaults, the fitted check. scikit-learn itself is not needed."""

from __future__ import annotations

import importlib.util
import inspect
from typing import Any

from ..errors import NotFittedError

__all__ = ["RENAMED", "Estimator"]

#: the constructor's names before it took MLPClassifier's -> their names now (for
#: set_params' error)
RENAMED = {
    "hidden_sizes": "hidden_layer_sizes",
    "reg": "alpha (reg = alpha / batch size)",
    "steps": "max_iter (epochs)",
    "seed": "random_state",
    "scale": "(none: the initial weights are Glorot-uniform, as MLPClassifier's)",
    "log_every": "verbose",
    "callback": "(none: loss_curve_ records every epoch)",
}


class Estimator:
    """The parameters of a scikit-learn estimator: those of the subclass's ``__init__``,
    stored under their names; and the check that it is fitted."""

    def __sklearn_is_fitted__(self) -> bool:
        """Whether ``fit`` has run (each estimator knows by its fitted attributes)."""
        raise NotImplementedError

    def _check_is_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )

    @classmethod
    def _get_param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return sorted(p.name for p in signature.parameters.values() if p.name != "self")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Get the constructor's arguments, as scikit-learn's ``get_params``.

        Parameters
        ----------
        deep : bool
            Ignored (no sub-estimators); scikit-learn's signature.

        Returns
        -------
        dict of str to object
            Each constructor argument's name and value.

        Examples
        --------
        >>> import portable_net as pn
        >>> pn.Classifier(max_iter=50).get_params()["max_iter"]
        50
        """
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any) -> Any:
        """Set constructor arguments, as scikit-learn's ``set_params``.

        Parameters
        ----------
        **params
            Constructor arguments by name; an unknown name is a ValueError.

        Returns
        -------
        estimator
            The estimator itself.

        Examples
        --------
        >>> import portable_net as pn
        >>> pn.Classifier().set_params(alpha=1e-3).alpha
        0.001
        """
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                hint = f" (renamed: use {RENAMED[name]})" if name in RENAMED else ""
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}{hint}. "
                    f"Valid parameters are: {valid!r}."
                )
            setattr(self, name, value)
        return self

    # --- Jupyter: scikit-learn's estimator diagram where scikit-learn is installed --------

    @property
    def _repr_html_(self) -> Any:
        """scikit-learn's HTML diagram of the estimator (as its estimators' ``_repr_html_``):
        an attribute only where scikit-learn is installed and its ``display`` setting is
        ``"diagram"`` (Jupyter then shows the text repr)."""
        diagram = _diagram()
        if diagram is None:
            raise AttributeError(
                "_repr_html_ needs scikit-learn, with its 'display' configuration option set "
                "to 'diagram'"
            )
        return lambda: diagram(self)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, str]:
        """What Jupyter displays: the text repr, and scikit-learn's diagram where
        :attr:`_repr_html_` has it."""
        output = {"text/plain": repr(self)}
        diagram = _diagram()
        if diagram is not None:
            output["text/html"] = diagram(self)
        return output

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
        }
        args = []
        for name in self._get_param_names():
            value, default = getattr(self, name), defaults[name]
            try:
                same = bool(value == default) and type(value) is type(default)
            except Exception:  # arrays and other odd values: show them
                same = False
            if not same:
                args.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(args)})"


def _diagram() -> Any:
    """scikit-learn's ``estimator_html_repr`` when scikit-learn is installed and its
    ``display`` option is ``"diagram"`` (its default), else None. Imported only here, when
    a notebook asks for the diagram."""
    if importlib.util.find_spec("sklearn") is None:
        return None
    import sklearn
    from sklearn.utils import estimator_html_repr

    return estimator_html_repr if sklearn.get_config()["display"] == "diagram" else None
