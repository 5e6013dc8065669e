"""A model file's plain metadata: what :func:`portable_net.save` may store (JSON-able plain
data, :func:`plain`), how the stored JSON document is parsed back (:func:`parse`: no NaN or
infinity, bounded nesting), and the checks of the metadata fields the library's own readers
use (:func:`check_fields`: the estimators' settings and fitted attributes, the command's
records), so that no reader meets a value of the wrong type."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import array_api_compat
import numpy as np

from ._backend import to_host
from ._text import shown

__all__ = ["MAX_DEPTH", "check_fields", "parse", "plain"]

#: how deeply the metadata's lists and dicts may nest
MAX_DEPTH = 64


def plain(value: Any, where: str) -> Any:
    """``value`` as JSON-able plain data (numbers, strings, lists, dicts), or a TypeError
    (ValueError for a NaN or infinity) naming ``where``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"metadata {where} must be finite to be stored, got {value}")
        return value
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"metadata {where} must have string keys, got {k!r}")
            out[k] = plain(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if hasattr(value, "steps") and hasattr(value, "loss"):  # a History
        return {
            "steps": plain(list(value.steps), f"{where}.steps"),
            "loss": plain(list(value.loss), f"{where}.loss"),
            "final_loss": plain(getattr(value, "final_loss", None), f"{where}.final_loss"),
        }
    if array_api_compat.is_array_api_obj(value):
        return plain(to_host(value).tolist(), where)
    raise TypeError(
        f"metadata {where} must be plain data (numbers, strings, lists, dicts, arrays), "
        f"not {type(value).__name__}"
    )


class _NonFinite(ValueError):
    """NaN or an infinity in the metadata's JSON (``NaN``, ``Infinity``, ``1e400``)."""


def _no_constant(text: str) -> float:
    raise _NonFinite(text)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(text)
    return value


def _depth(value: Any) -> int:
    """How deeply lists and dicts nest in a JSON value (iteratively: no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def parse(text: str) -> tuple[Any, str | None]:
    """``(document, None)``: the JSON text parsed (finite numbers only, nested at most
    ``MAX_DEPTH`` deep); or ``(None, problem)``, the problem in words."""
    try:
        document = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except _NonFinite as exc:
        return None, f"its metadata holds the number {exc} (save never writes it)"
    except json.JSONDecodeError as exc:
        return None, f"its metadata is not valid JSON ({' '.join(str(exc).split())[:200]})"
    except RecursionError:
        return None, "its metadata nests lists or dicts too deeply"
    if _depth(document) > MAX_DEPTH:
        return None, f"its metadata nests lists or dicts over {MAX_DEPTH} levels deep"
    return document, None


# --- the fields the library's readers use -------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_count(v: Any) -> bool:
    return _is_int(v) and 0 <= v < 2**63


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_list_of(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, list) and all(check(x) for x in v)


def _or_none(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


def _is_dict(v: Any) -> bool:
    return isinstance(v, dict)


_NUMBERS = (_or_none(_is_list_of(_or_none(_is_number))), "a list of numbers")
_NUMBER = (_or_none(_is_number), "a number")
#: the user metadata fields that the library's own readers use (Classifier.load, the command
#: line) and what each must be when present, so that no reader meets a value of the wrong
#: type (TypeError, OverflowError) but load's one ValueError naming the file and the field
_FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "settings": (_is_dict, "a dict"),
    "settings.hidden_layer_sizes": (_is_list_of(_is_count), "a list of integers"),
    "fitted": (_is_dict, "a dict"),
    "fitted.n_iter_": (_is_count, "an integer"),
    "fitted.t_": (_is_count, "an integer"),
    "fitted.loss_curve_": (_is_list_of(_or_none(_is_number)), "a list of numbers"),
    "fitted.validation_scores_": _NUMBERS,
    "fitted.loss_": _NUMBER,
    "fitted.best_loss_": _NUMBER,
    "fitted.best_validation_score_": _NUMBER,
    "data": (_is_dict, "a dict"),
}


def check_fields(metadata: dict[str, Any]) -> str | None:
    """Why a field of ``_FIELDS`` present in ``metadata`` is not of its kind, or None."""
    for name, (check, expected) in _FIELDS.items():
        outer, _, inner = name.partition(".")
        value = metadata.get(outer)
        if inner:
            if not isinstance(value, dict) or inner not in value:
                continue
            value = value[inner]
        elif outer not in metadata:
            continue
        if not check(value):
            return f"its metadata field {name!r} is {shown(value)}, not {expected}"
    return None
