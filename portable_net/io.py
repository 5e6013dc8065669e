"""Saved models: one ``.npz`` file of weights and plain metadata, never pickled, one format
for every writer (:func:`save`, ``Classifier.save``, ``Regressor.save``, ``portable-net
train --save``) and one reader (:func:`load`, which ``Classifier.load``, ``Regressor.load``,
``portable-net predict`` and ``evaluate`` call).

The file holds one array per parameter (``W1``, ``b1``, ...) and one 0-d string array,
``_metadata``, with a JSON document: the layer sizes, the dtype, the library version, what
the model is (its kind, activation, output layer and loss, classes with their dtype,
preprocessing and CSV dialect: :mod:`portable_net._model_format`) and whatever plain data the
caller passed (the training settings, the history, ...). Loading reads it with
``allow_pickle=False``, checks everything and puts the weights in any backend's arrays.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import _model_format as fmt
from ._backend import float_dtype, resolve_device, to_host, to_namespace
from ._legacy import from_version_1
from ._metadata import MAX_DEPTH, check_fields, parse, plain
from ._model_format import MODEL_KEYS, check_kind, describe
from ._npz import READ_ERRORS, Refused, open_archive, read_data, read_header, refusal
from ._output import check_output, open_output, write_output
from ._text import reason
from ._validation import check_float_dtype, layer_sizes
from ._version import __version__

__all__ = ["check_kind", "check_output", "describe", "load", "open_output", "save", "write_output"]

_METADATA_KEY = "_metadata"
#: the names save() fills in itself (the library version, the layer sizes and dtype of the
#: weights, the format) and the model description's, which are its keywords
_RESERVED = ("layer_sizes", "dtype", "portable_net_version", "format_version", *MODEL_KEYS)
#: metadata names that said what the model is before the file had its own fields for it:
#: refused (a reader would not apply them), with the keyword to use
_MOVED = {
    "task": "kind='regressor'",
    "standardize": "preprocessing={'standardize': ...}",
    "categorical": "preprocessing={'categorical': ...}",
    "feature_names": "preprocessing={'feature_names': ...}",
    "missing": "preprocessing={'missing': ...}",
}


def save(
    path: str | os.PathLike[str],
    params: Mapping[str, Any],
    *,
    kind: str = "classifier",
    activation: str = "relu",
    output: str | None = None,
    classes: Any = None,
    classes_dtype: str | None = None,
    preprocessing: Mapping[str, Any] | None = None,
    dialect: Mapping[str, Any] | None = None,
    **metadata: Any,
) -> Path:
    """Save a model's parameters, what the model is, and plain metadata to one ``.npz`` file.

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
    kind : {"classifier", "multilabel", "regressor"}, default "classifier"
        What the model answers: one class per point (what :func:`train` trains), a set of
        labels, or real values.
    activation : {"relu", "tanh", "logistic", "identity"}, default "relu"
        The hidden layers' activation (the one the model was trained with: :func:`train`'s
        ``activation``).
    output : {"softmax", "logistic", "identity"} or None
        The output layer; None: the kind's (softmax for a classifier, one logistic output for
        a classifier of one output, logistic for multilabel, identity for a regressor). The
        file records the loss that goes with it (cross-entropy, binary cross-entropy,
        squared error).
    classes : list or array, optional
        A classifier's labels, distinct and sorted, one per output (two for one logistic
        output); None: the output indices ``0..K-1`` (what :func:`predict` returns). A
        regressor has none.
    classes_dtype : str, optional
        The NumPy dtype the labels come back as; None: the labels' own (``int64`` for
        integers, ``<U5`` for texts of up to 5 characters). It must hold every label exactly.
    preprocessing : dict, optional
        What is done to a point before the network: some of ``feature_names`` (one per
        input, for taking columns by name), ``standardize`` (``{"mean", "scale"}``, one per
        input), ``categorical`` (``{"columns", "categories"}``) and ``missing``
        (``{"policy": "error" | "drop" | "mean", "fill": [...]}``); the others are recorded
        as none.
    dialect : dict, optional
        The CSV files the model reads: some of ``delimiter``, ``decimal`` and ``label``.
    **metadata
        Plain data kept with the weights: numbers, strings, None, lists and dicts of them,
        small arrays (stored as lists) and :class:`History` objects (stored as a dict of
        ``steps``, ``loss``, ``final_loss``). The file also records ``layer_sizes``,
        ``dtype`` and ``portable_net_version``; ``layer_sizes`` and ``dtype`` may be
        passed (e.g. when re-saving what :func:`load` returned, with ``loss`` and
        ``format_version``) but must agree with ``params``, and ``portable_net_version`` is
        always the version writing the file.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError, ValueError
        For parameters that are not a model, a description that does not fit them (a
        regressor with classes, three classes for two outputs, an unknown activation), or
        metadata that is not plain data.
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
    for key, keyword in _MOVED.items():
        if key in metadata:
            raise TypeError(
                f"metadata {key!r} is part of what the model is: pass {keyword} (no reader "
                "would apply it as metadata)"
            )
    for key in ("layer_sizes", "dtype"):
        if key in metadata:
            given = plain(metadata[key], repr(key))
            actual = sizes if key == "layer_sizes" else dtype
            if given != actual:
                raise ValueError(
                    f"metadata {key!r} is {given!r} but params have {key.replace('_', ' ')} "
                    f"{actual!r}; leave it out, it is recorded from params"
                )
    model = fmt.build(
        sizes, kind=kind, activation=activation, output=output, classes=classes,
        classes_dtype=classes_dtype, preprocessing=preprocessing, dialect=dialect,
        loss=metadata.get("loss"),
    )  # fmt: skip
    user = {
        k: plain(v, repr(k)) for k, v in metadata.items() if k not in _RESERVED
    }  # checked before anything is written
    document = {
        "format": fmt.FORMAT,
        "format_version": fmt.FORMAT_VERSION,
        "portable_net_version": __version__,
        "layer_sizes": sizes,
        "dtype": dtype,
        "model": model,
        "metadata": user,
    }
    # Any: a dict of arrays could name savez' own keyword (allow_pickle); these keys cannot
    arrays: dict[str, Any] = {key: weights[key] for key in sorted(weights, key=_param_order)}
    arrays[_METADATA_KEY] = np.array(_json(document))  # a 0-d unicode array, no pickle
    return write_output(path, lambda f: np.savez(f, **arrays))


def _json(document: dict[str, Any]) -> str:
    import json

    return json.dumps(document)


def _param_order(key: str) -> tuple[int, str]:
    return int(key[1:]), "a" if key[0] == "W" else "b"


# --- limits of what load reads, all checked before the data they bound is read ----------

#: the weights of one model, in bytes (4 GiB: a float64 net of half a billion parameters);
#: they must also fit in the memory available (``MemAvailable`` where the system says it)
MAX_WEIGHT_BYTES = 2**32
#: the metadata document, in bytes as stored (a 0-d unicode array: 4 bytes per character)
MAX_METADATA_BYTES = 2**26
#: how deeply the metadata's lists and dicts may nest
MAX_METADATA_DEPTH = MAX_DEPTH
#: zip members: a weight and a bias per layer, and the metadata
MAX_MEMBERS = 2 * 1024 + 1
#: a deflated member larger than 1 MiB may inflate to at most this many times its compressed
#: size (model weights barely compress; save stores them uncompressed): a file's weights take
#: at most this many times the file's size in memory
MAX_COMPRESSION_RATIO = 20
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
    in the metadata (at most ``MAX_WEIGHT_BYTES`` in all, and no more than the memory
    available) before its data is read: a file's weights take at most
    ``MAX_COMPRESSION_RATIO`` times its size in memory, however large the sizes it declares.

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
        What was passed to :func:`save` as metadata, plus ``layer_sizes``, ``dtype``,
        ``portable_net_version`` (the version that wrote the file), ``format_version`` and
        what the model is, every field always there and checked: ``kind``,
        ``activation``, ``output``, ``loss``, ``classes`` and ``classes_dtype`` (None for
        a regressor), ``preprocessing`` (a dict of ``feature_names``, ``standardize``,
        ``categorical``, ``missing``, each None where there is none) and ``dialect`` (None,
        or a dict of ``delimiter``, ``decimal``, ``label``). A file of the first format
        (written before the file said what its model is) loads when its records say all
        this exactly, and is refused, naming the version that wrote it, when they do not.

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
        arrays, lacking a weight or the metadata, holding weights of the wrong shape or
        dtype or with NaN or infinite values, or a model description that is incomplete or
        does not fit its weights.

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
    >>> meta["kind"], meta["activation"], meta["output"], meta["classes"]
    ('classifier', 'relu', 'softmax', [0, 1, 2])
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
        raise _bad(path, f"it cannot be read ({reason(exc)})") from None
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(f"model file {str(path)!r} is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise _bad(path, "it is not a regular file (a FIFO, socket or device)")
    try:
        # O_NONBLOCK: were the path swapped for a FIFO after the check, open would not wait
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(path, flags)
    except OSError as exc:
        raise _bad(path, f"it cannot be read ({reason(exc)})") from None
    try:
        with os.fdopen(fd, "rb") as f:
            raw, document = _read_model(path, f)
    except Refused:
        raise
    except READ_ERRORS as exc:
        raise _bad(path, f"the file is truncated or corrupted ({reason(exc)})") from None

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
        format_version=document["format_version"],
        **document["model"],
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
        document = _read_document(path, str(text[()]))
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
        available = available_memory()
        if available is not None and total > available:
            raise _bad(
                path,
                f"its layer sizes {sizes} declare {total} bytes of weights, more than the "
                f"{available} bytes of memory available",
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


def available_memory() -> int | None:
    """The bytes of memory the system says are available (Linux's ``MemAvailable``), or
    None where it does not say."""
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _read_document(path: Path, text: str) -> dict[str, Any]:
    """The JSON document, checked: format 2 as it is, format 1 as its records say."""
    document, problem = parse(text)
    if problem:
        raise _bad(path, problem)
    if not isinstance(document, dict) or document.get("format") != fmt.FORMAT:
        raise _bad(path, "its metadata does not describe a portable_net model")
    version = document.get("format_version")
    writer = document.get("portable_net_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _bad(path, f"its format version {version!r} is not a version of the format")
    if version > fmt.FORMAT_VERSION:
        raise _bad(
            path,
            f"it has format version {version} (written by portable_net {writer!r}); this "
            f"portable_net {__version__} reads up to {fmt.FORMAT_VERSION} (upgrade portable_net)",
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
    if not (writer is None or isinstance(writer, str)):
        raise _bad(path, f"its portable_net version {writer!r} is not a version")
    if version == 1:
        converted = from_version_1(sizes, document["metadata"], writer)
        if isinstance(converted, str):
            raise _bad(path, converted)
        document["model"], document["metadata"] = converted
    else:
        problem = fmt.problem(sizes, document.get("model"))
        if problem:
            raise _bad(path, problem)
    problem = check_fields(document["metadata"]) or fmt.settings_problem(
        sizes, document["model"], document["metadata"]
    )
    if problem:
        raise _bad(path, problem)
    document.setdefault("portable_net_version", None)
    return document
