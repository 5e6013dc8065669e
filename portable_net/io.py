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
import tempfile
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import array_api_compat
import numpy as np

from ._backend import float_dtype, resolve_device, to_host, to_namespace
from ._validation import layer_sizes
from ._version import __version__

__all__ = ["load", "save"]

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


def save(path: str | os.PathLike, params: Mapping[str, Any], **metadata: Any) -> Path:
    """Save a model's parameters and plain metadata to one ``.npz`` file.

    Parameters
    ----------
    path : str or path-like
        The file to write, exactly as named (no suffix is added; ``.npz`` is the convention).
        It is written to a temporary file first and moved into place, so an existing file
        is never left half-written.
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
    OSError
        When the file cannot be written (a missing directory, no permission).
    """

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or a path, not {type(path).__name__}")
    path = Path(path)
    sizes = layer_sizes(params)
    weights = {key: to_host(params[key]) for key in params}
    dtypes = {str(w.dtype) for w in weights.values()}
    if len(dtypes) != 1 or next(iter(dtypes)) not in ("float32", "float64"):
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
    arrays = {key: weights[key] for key in sorted(weights, key=_param_order)}
    arrays[_METADATA_KEY] = np.array(json.dumps(document))  # a 0-d unicode array, no pickle
    directory = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise IsADirectoryError(f"cannot save the model to {str(path)!r}: it is a directory")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.chmod(tmp, _file_mode(path))  # mkstemp makes 0600; give what open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _file_mode(path: Path) -> int:
    """The permissions of the file being replaced, or the default ones of a new file."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _param_order(key: str) -> tuple[int, str]:
    return int(key[1:]), "a" if key[0] == "W" else "b"


def _bad(path: Path, problem: str) -> ValueError:
    return ValueError(f"{str(path)!r} is not a usable portable_net model: {problem}")


def load(
    path: str | os.PathLike, *, xp: Any = None, device: Any = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Load a model written by :func:`save`, onto any backend and device.

    The file is read with ``allow_pickle=False``: nothing in it is ever executed.

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
    ValueError
        Naming the file and the problem, when it is not an ``.npz`` file, is truncated or
        corrupted, holds object (pickled) arrays, lacks a weight or the metadata, or holds
        weights of the wrong shape or dtype.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or a path, not {type(path).__name__}")
    namespace = to_namespace(xp)
    device = resolve_device(namespace, device)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist")
    if path.is_dir():
        raise IsADirectoryError(f"model file {str(path)!r} is a directory")
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] != b"PK":
        what = "a .npy array" if head[:4] == b"\x93NUM" else "not an .npz (zip) file"
        raise _bad(path, f"{what}; save models with portable_net.save")
    if not zipfile.is_zipfile(path):
        raise _bad(path, "the file is truncated or corrupted (its zip directory is unreadable)")

    try:
        with np.load(path, allow_pickle=False) as npz:
            names = set(npz.files)
            if _METADATA_KEY not in names:
                raise _bad(path, f"it lacks the {_METADATA_KEY!r} entry (not written by save)")
            raw = {name: npz[name] for name in names}
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise _bad(
                path, "it holds object arrays (pickled data), which are never loaded"
            ) from None
        if "usable portable_net model" in str(exc):
            raise
        raise _bad(path, f"the file is truncated or corrupted ({exc})") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError) as exc:
        raise _bad(path, f"the file is truncated or corrupted ({exc})") from None

    document = _read_document(path, raw.pop(_METADATA_KEY))
    sizes, dtype = document["layer_sizes"], document["dtype"]
    n_layers = len(sizes) - 1
    expected = {f"{p}{i}": None for i in range(1, n_layers + 1) for p in "Wb"}
    for key in expected:
        if key not in raw:
            raise _bad(path, f"it lacks the weight {key!r} (layer sizes {sizes})")
    extra = sorted(set(raw) - set(expected))
    if extra:
        raise _bad(path, f"it holds unexpected entries {extra}")
    for i in range(1, n_layers + 1):
        for key, shape in ((f"W{i}", (sizes[i - 1], sizes[i])), (f"b{i}", (sizes[i],))):
            arr = raw[key]
            if arr.dtype.hasobject:
                raise _bad(path, f"weight {key!r} is an object array")
            if tuple(arr.shape) != shape:
                raise _bad(path, f"weight {key!r} has shape {arr.shape}, expected {shape}")
            if str(arr.dtype) != dtype:
                raise _bad(path, f"weight {key!r} has dtype {arr.dtype}, expected {dtype}")

    target = float_dtype(namespace, device, None if dtype == "float64" else dtype)
    params = {
        key: namespace.asarray(raw[key], dtype=target, device=device)
        for key in sorted(expected, key=_param_order)
    }
    metadata = dict(document["metadata"])
    metadata.update(
        layer_sizes=list(sizes),
        dtype=dtype,
        portable_net_version=document["portable_net_version"],
    )
    return params, metadata


def _read_document(path: Path, raw: np.ndarray) -> dict[str, Any]:
    """The JSON metadata document, checked."""
    if raw.shape != () or raw.dtype.kind != "U":
        raise _bad(path, f"its {_METADATA_KEY!r} entry is not a JSON string")
    try:
        document = json.loads(str(raw[()]))
    except json.JSONDecodeError as exc:
        raise _bad(path, f"its metadata is not valid JSON ({exc})") from None
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
    if document.get("dtype") not in ("float32", "float64"):
        raise _bad(path, f"its dtype {document.get('dtype')!r} is not float32 or float64")
    if not isinstance(document.get("metadata"), dict):
        raise _bad(path, "its metadata is not a dict")
    document.setdefault("portable_net_version", None)
    return document
