"""Saved models: one ``.npz`` file of weights and plain metadata, never pickled.

The file holds one array per parameter (``W1``, ``b1``, ...) and one 0-d string array,
``_metadata``, with a JSON document: the layer sizes, the dtype, the library version and
whatever the caller passed (the training settings, the history, ...). Loading reads it with
``allow_pickle=False``, checks everything and puts the weights in any backend's arrays.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import array_api_compat
import numpy as np

from ._backend import float_dtype, resolve_device, to_host, to_namespace
from ._npz import READ_ERRORS, Refused, one_line, open_archive, read_data, read_header, refusal
from ._output import check_output, open_output, write_output
from ._validation import check_float_dtype, layer_sizes
from ._version import __version__

__all__ = ["check_output", "load", "open_output", "save", "write_output"]

_FORMAT = "portable_net model"
_FORMAT_VERSION = 1
_METADATA_KEY = "_metadata"
#: metadata names that save() fills in itself
_RESERVED = ("layer_sizes", "dtype", "portable_net_version")


def _plain(value: Any, where: str) -> Any:
    """``value`` as JSON-able plain data (numbers, strings, lists, dicts), or a TypeError."""
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
            out[k] = _plain(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if hasattr(value, "steps") and hasattr(value, "loss"):  # a History
        return {
            "steps": _plain(list(value.steps), f"{where}.steps"),
            "loss": _plain(list(value.loss), f"{where}.loss"),
            "final_loss": _plain(getattr(value, "final_loss", None), f"{where}.final_loss"),
        }
    if array_api_compat.is_array_api_obj(value):
        return _plain(to_host(value).tolist(), where)
    raise TypeError(
        f"metadata {where} must be plain data (numbers, strings, lists, dicts, arrays), "
        f"not {type(value).__name__}"
    )


def save(path: str | os.PathLike[str], params: Mapping[str, Any], **metadata: Any) -> Path:
    """Save a model's parameters and plain metadata to one ``.npz`` file.

    Parameters
    ----------
    path : str or path-like
        The file to write, exactly as named (no suffix is added; ``.npz`` is the convention).
        Written by ``portable_net.io.write_output``'s rules: a regular file is written to a temporary
        file beside it and moved into place (never left half-written), and only if this
        user may write it (a read-only file is refused, even for root); a symlink to a
        regular file replaces the file it points to; a character device or FIFO (or a link
        to one, such as ``/dev/stdout``) is written through, never replaced.
    params : dict of arrays
        ``W1, b1, ..., WL, bL`` of any supported library and device (moved to the host).
    **metadata
        Plain data kept with the weights: numbers, strings, None, lists and dicts of them,
        small arrays (stored as lists) and :class:`History` objects (stored as a dict of
        ``steps``, ``loss``, ``final_loss``). The file also records ``layer_sizes``,
        ``dtype`` and ``portable_net_version``; ``layer_sizes`` and ``dtype`` may be
        passed (e.g. when re-saving what :func:`load` returned) but must agree with
        ``params``, and ``portable_net_version`` is always the version writing the file.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError, ValueError
        For parameters that are not a model, or metadata that is not plain data.
    PermissionError
        When the file exists and is read-only, or the directory cannot be written.
    OSError
        When the file cannot be written (a missing directory, a directory, a socket).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import portable_net as pn
    >>> params = pn.init_params([2, 100, 3], seed=0)
    >>> path = pn.save(Path(tempfile.mkdtemp()) / "net.npz", params, steps=10_000)
    >>> path.name
    'net.npz'
    """

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or a path, not {type(path).__name__}")
    path = Path(path)
    sizes = layer_sizes(params)
    weights = {key: to_host(params[key]) for key in params}
    for key, w in weights.items():
        check_float_dtype(f"params[{key!r}]", w.dtype)
        if not np.all(np.isfinite(w)):
            raise ValueError(f"params[{key!r}] holds NaN or infinite values; it cannot be saved")
    dtypes = {str(w.dtype) for w in weights.values()}
    if len(dtypes) != 1:
        raise TypeError(
            f"params must all be float32 or all float64, got dtypes "
            f"{ {k: str(w.dtype) for k, w in weights.items()} }"
        )
    dtype = dtypes.pop()
    for key in ("layer_sizes", "dtype"):
        if key in metadata:
            given = _plain(metadata[key], repr(key))
            actual = sizes if key == "layer_sizes" else dtype
            if given != actual:
                raise ValueError(
                    f"metadata {key!r} is {given!r} but params have {key.replace('_', ' ')} "
                    f"{actual!r}; leave it out, it is recorded from params"
                )
    user = {
        k: _plain(v, repr(k)) for k, v in metadata.items() if k not in _RESERVED
    }  # checked before anything is written
    document = {
        "format": _FORMAT,
        "format_version": _FORMAT_VERSION,
        "portable_net_version": __version__,
        "layer_sizes": sizes,
        "dtype": dtype,
        "metadata": user,
    }
    # Any: a dict of arrays could name savez' own keyword (allow_pickle); these keys cannot
    arrays: dict[str, Any] = {key: weights[key] for key in sorted(weights, key=_param_order)}
    arrays[_METADATA_KEY] = np.array(json.dumps(document))  # a 0-d unicode array, no pickle
    return write_output(path, lambda f: np.savez(f, **arrays))


def _param_order(key: str) -> tuple[int, str]:
    return int(key[1:]), "a" if key[0] == "W" else "b"


# --- limits of what load reads, all checked before the data they bound is read ----------

#: the weights of one model, in bytes (4 GiB: a float64 net of half a billion parameters)
MAX_WEIGHT_BYTES = 2**32
#: the metadata document, in bytes as stored (a 0-d unicode array: 4 bytes per character)
MAX_METADATA_BYTES = 2**26
#: how deeply the metadata's lists and dicts may nest
MAX_METADATA_DEPTH = 64
#: zip members: a weight and a bias per layer, and the metadata
MAX_MEMBERS = 2 * 1024 + 1
#: a deflated member larger than 1 MiB may inflate to at most this many times its compressed
#: size (model weights barely compress; save stores them uncompressed)
MAX_COMPRESSION_RATIO = 100
_WHAT = "portable_net model"


def _bad(path: Path, problem: str) -> ValueError:
    """The one error of load, on one line of bounded length."""
    return refusal(path, _WHAT, problem)


def load(
    path: str | os.PathLike[str], *, xp: Any = None, device: Any = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Load a model written by :func:`save`, onto any backend and device.

    The file is read with ``allow_pickle=False``: nothing in it is ever executed. Its memory
    is bounded by what can be checked before any data is read: only a regular file is opened
    (a FIFO or a device never blocks the call); every zip member must be stored or deflated,
    unencrypted, within the file and of a sane compression ratio; the metadata is read first
    (at most ``MAX_METADATA_BYTES``, nested at most ``MAX_METADATA_DEPTH`` deep); every
    weight's ``.npy`` header must then declare exactly the shape and dtype of the layer sizes
    in the metadata (at most ``MAX_WEIGHT_BYTES`` in all) before its data is read.

    Parameters
    ----------
    path : str or path-like
        The ``.npz`` file.
    xp : None, str or namespace
        Backend of the returned arrays: None for NumPy, a backend name (``"torch"``) or a
        namespace.
    device : None, str or device
        Device of the returned arrays (``"cuda:0"``); None for the backend's default.

    Returns
    -------
    params : dict of arrays
        ``W1, b1, ..., WL, bL`` in the saved dtype (a backend without float64, such as JAX
        without x64, gets its default float and a warning).
    metadata : dict
        What was passed to :func:`save`, plus ``layer_sizes``, ``dtype`` and
        ``portable_net_version`` (the version that wrote the file).

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    IsADirectoryError
        When the path is a directory.
    ValueError
        Naming the file and the problem, for anything else: not a regular file, unreadable
        (permissions, I/O errors), not an ``.npz`` file, truncated or corrupted, compressed
        with another method or encrypted, over the limits above, holding object (pickled)
        arrays, lacking a weight or the metadata, or holding weights of the wrong shape or
        dtype or with NaN or infinite values.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import portable_net as pn
    >>> path = Path(tempfile.mkdtemp()) / "net.npz"
    >>> _ = pn.save(path, pn.init_params([2, 100, 3], seed=0), steps=10_000)
    >>> params, meta = pn.load(path)  # xp="torch", device="cuda:0": onto another backend
    >>> meta["layer_sizes"], meta["steps"], meta["dtype"]
    ([2, 100, 3], 10000, 'float64')
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or a path, not {type(path).__name__}")
    namespace = to_namespace(xp)
    device = resolve_device(namespace, device)
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"model file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise _bad(path, f"it cannot be read ({one_line(exc)})") from None
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(f"model file {str(path)!r} is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise _bad(path, "it is not a regular file (a FIFO, socket or device)")
    try:
        # O_NONBLOCK: were the path swapped for a FIFO after the check, open would not wait
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(path, flags)
    except OSError as exc:
        raise _bad(path, f"it cannot be read ({one_line(exc)})") from None
    try:
        with os.fdopen(fd, "rb") as f:
            raw, document = _read_model(path, f)
    except Refused:
        raise
    except READ_ERRORS as exc:
        raise _bad(path, f"the file is truncated or corrupted ({one_line(exc)})") from None

    sizes, dtype = document["layer_sizes"], document["dtype"]
    target = float_dtype(namespace, device, None if dtype == "float64" else dtype)
    params = {
        key: namespace.asarray(raw[key], dtype=target, device=device)
        for key in sorted(raw, key=_param_order)
    }
    metadata = dict(document["metadata"])
    metadata.update(
        layer_sizes=list(sizes),
        dtype=dtype,
        portable_net_version=document["portable_net_version"],
    )
    return params, metadata


def _read_model(path: Path, f: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The checked weights (NumPy) and metadata document of the open file ``f``."""
    archive, members = open_archive(
        path, f, what=_WHAT, max_members=MAX_MEMBERS, max_ratio=MAX_COMPRESSION_RATIO
    )
    with archive:
        if _METADATA_KEY not in members:
            raise _bad(path, f"it lacks the {_METADATA_KEY!r} entry (not written by save)")
        # the metadata first: it declares the shapes every other header must have
        meta_info = members.pop(_METADATA_KEY)
        with archive.open(meta_info) as stream:
            shape, fortran, mdtype = read_header(path, stream, _METADATA_KEY, what=_WHAT)
            if shape != () or mdtype.kind != "U":
                raise _bad(path, f"its {_METADATA_KEY!r} entry is not a JSON string")
            if mdtype.itemsize > MAX_METADATA_BYTES:
                raise _bad(
                    path,
                    f"its metadata declares {mdtype.itemsize} bytes, over the limit of "
                    f"{MAX_METADATA_BYTES}",
                )
            text = read_data(
                path, stream, meta_info, _METADATA_KEY, shape, fortran, mdtype, what=_WHAT
            )
        document = _read_document(path, text)
        sizes, dtype = document["layer_sizes"], document["dtype"]
        n_layers = len(sizes) - 1
        shapes: dict[str, tuple[int, ...]] = {}
        for i in range(1, n_layers + 1):
            shapes[f"W{i}"] = (sizes[i - 1], sizes[i])
            shapes[f"b{i}"] = (sizes[i],)
        total = sum(math.prod(s) for s in shapes.values()) * np.dtype(dtype).itemsize
        if total > MAX_WEIGHT_BYTES:
            raise _bad(
                path,
                f"its layer sizes {sizes} declare {total} bytes of weights, over the limit "
                f"of {MAX_WEIGHT_BYTES}",
            )
        for key in shapes:
            if key not in members:
                raise _bad(path, f"it lacks the weight {key!r} (layer sizes {sizes})")
        extra = sorted(set(members) - set(shapes))
        if extra:
            raise _bad(path, f"it holds unexpected entries {extra}")
        raw = {}
        for key in sorted(shapes, key=_param_order):
            with archive.open(members[key]) as stream:
                shape, fortran, wdtype = read_header(path, stream, key, what=_WHAT)
                if wdtype.hasobject:
                    raise _bad(
                        path, "it holds object arrays (pickled data), which are never loaded"
                    )
                if shape != shapes[key]:
                    raise _bad(path, f"weight {key!r} has shape {shape}, expected {shapes[key]}")
                if str(wdtype) != dtype or wdtype.byteorder not in ("=", "<", "|"):
                    raise _bad(path, f"weight {key!r} has dtype {wdtype}, expected {dtype}")
                arr = read_data(path, stream, members[key], key, shape, fortran, wdtype, what=_WHAT)
            if not np.all(np.isfinite(arr)):
                raise _bad(path, f"weight {key!r} holds NaN or infinite values")
            raw[key] = arr
    return raw, document


def _depth(value: Any) -> int:
    """How deeply lists and dicts nest in a JSON value (iteratively: no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level)
            if level > MAX_METADATA_DEPTH:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def _read_document(path: Path, raw: np.ndarray) -> dict[str, Any]:
    """The JSON metadata document, checked."""
    try:
        document = json.loads(str(raw[()]), parse_constant=_no_constant, parse_float=_finite)
    except _NonFinite as exc:
        raise _bad(path, f"its metadata holds the number {exc} (save never writes it)") from None
    except json.JSONDecodeError as exc:
        raise _bad(path, f"its metadata is not valid JSON ({one_line(exc)})") from None
    except RecursionError:
        raise _bad(path, "its metadata nests lists or dicts too deeply") from None
    if _depth(document) > MAX_METADATA_DEPTH:
        raise _bad(path, f"its metadata nests lists or dicts over {MAX_METADATA_DEPTH} levels deep")
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        raise _bad(path, "its metadata does not describe a portable_net model")
    version = document.get("format_version")
    if not isinstance(version, int) or version > _FORMAT_VERSION:
        raise _bad(
            path,
            f"it has format version {version!r}; this portable_net reads up to "
            f"{_FORMAT_VERSION} (upgrade portable_net)",
        )
    sizes = document.get("layer_sizes")
    if (
        not isinstance(sizes, list)
        or len(sizes) < 2
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes)
    ):
        raise _bad(path, f"its layer sizes {sizes!r} are not a list of positive integers")
    if len(sizes) - 1 > (MAX_MEMBERS - 1) // 2:
        raise _bad(
            path, f"it declares {len(sizes) - 1} layers, over the limit of {(MAX_MEMBERS - 1) // 2}"
        )
    if document.get("dtype") not in ("float32", "float64"):
        raise _bad(path, f"its dtype {document.get('dtype')!r} is not float32 or float64")
    if not isinstance(document.get("metadata"), dict):
        raise _bad(path, "its metadata is not a dict")
    _check_fields(path, document["metadata"])
    document.setdefault("portable_net_version", None)
    return document


class _NonFinite(ValueError):
    """NaN or an infinity in the metadata's JSON (``NaN``, ``Infinity``, ``1e400``)."""


def _no_constant(text: str) -> float:
    raise _NonFinite(text)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(text)
    return value


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_count(v: Any) -> bool:
    return _is_int(v) and 0 <= v < 2**63


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_list_of(check: Any) -> Any:
    return lambda v: isinstance(v, list) and all(check(x) for x in v)


def _or_none(check: Any) -> Any:
    return lambda v: v is None or check(v)


_SIZES = (lambda v: _is_count(v) or _is_list_of(_is_count)(v), "an integer or a list of them")
_NUMBERS = (_or_none(_is_list_of(_is_number)), "a list of numbers")
_NUMBER = (_or_none(_is_number), "a number")
_is_str = lambda v: isinstance(v, str)  # noqa: E731
_ACTIVATION = (lambda v: v in ("identity", "logistic", "tanh", "relu"), "an activation's name")
#: the metadata fields that the library's own readers use (Classifier.load, the command
#: line) and what each must be when present, so that no reader meets a value of the wrong
#: type (TypeError, OverflowError) but load's one ValueError naming the file and the field
_FIELDS: dict[str, tuple[Any, str]] = {
    "classes": (_is_list_of(lambda c: isinstance(c, (int, float, str))), "a list of labels"),
    "classes_dtype": (_or_none(_is_str), "a dtype's name"),
    "n_features_in": (_or_none(_is_count), "an integer"),
    "settings": (lambda v: isinstance(v, dict), "a dict"),
    "settings.hidden_layer_sizes": _SIZES,
    "settings.hidden_sizes": _SIZES,
    "settings.activation": _ACTIVATION,
    "activation": _ACTIVATION,
    "fitted": (lambda v: isinstance(v, dict), "a dict"),
    "fitted.out_activation_": (lambda v: v in ("softmax", "logistic", "identity"), "a name"),
    "fitted.multilabel": (lambda v: isinstance(v, bool), "true or false"),
    "fitted.n_features_in_": (_or_none(_is_count), "an integer"),
    "fitted.n_iter_": (_is_count, "an integer"),
    "fitted.t_": (_is_count, "an integer"),
    "fitted.loss_curve_": _NUMBERS,
    "fitted.validation_scores_": _NUMBERS,
    "fitted.loss_": _NUMBER,
    "fitted.best_loss_": _NUMBER,
    "fitted.best_validation_score_": _NUMBER,
    "fitted.feature_names_in_": (_or_none(_is_list_of(_is_str)), "a list of strings"),
    "standardize": (_or_none(lambda v: isinstance(v, dict)), "a dict"),
}


def _check_fields(path: Path, metadata: dict[str, Any]) -> None:
    """Each field of ``_FIELDS`` present in ``metadata`` is of its kind; and the classes
    fit their recorded dtype."""
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
            raise _bad(path, f"its metadata field {name!r} is {_shown(value)}, not {expected}")
    kind = metadata.get("classes_dtype")
    if isinstance(kind, str) and "classes" in metadata:
        try:  # a labels' dtype, converted within the metadata's own limit of bytes
            dtype = np.dtype(kind)
            if dtype.kind not in "biufUS" or dtype.itemsize * len(metadata["classes"]) > (
                MAX_METADATA_BYTES
            ):
                raise TypeError(f"{dtype} is not a dtype of these labels")
            np.asarray(metadata["classes"], dtype=dtype)
        except (TypeError, ValueError, OverflowError) as exc:
            why = f"do not fit its 'classes_dtype' {_shown(kind)} ({one_line(exc)})"
            raise _bad(path, f"its metadata field 'classes' {why}") from None


def _shown(value: Any) -> str:
    return one_line(ValueError(repr(value)))[:60]
