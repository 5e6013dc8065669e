"""Backend plumbing: names -> array API namespaces, devices, dtypes, mixed-input errors.

Everything library-specific that the shared code path needs lives here, so the rest of the
package is written against the array API standard only.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import warnings
from collections.abc import Mapping
from types import ModuleType
from typing import Any, cast

import array_api_compat
import numpy as np

__all__ = ["available_backends", "get_namespace"]

#: Backend names, in the order they are tried and listed.
BACKENDS = ("numpy", "array_api_strict", "torch", "jax", "cupy")

# backend name -> (module that must be importable, module holding the namespace)
_NAMESPACE_MODULES = {
    "numpy": ("numpy", "array_api_compat.numpy"),
    "array_api_strict": ("array_api_strict", "array_api_strict"),
    "torch": ("torch", "array_api_compat.torch"),
    "jax": ("jax", "jax.numpy"),
    "cupy": ("cupy", "array_api_compat.cupy"),
}


def _installed(name: str) -> bool:
    return importlib.util.find_spec(_NAMESPACE_MODULES[name][0]) is not None


def _cupy_device_count() -> int:
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # no driver, no device, broken install: not usable here
        return 0


def _usable(name: str) -> bool:
    if not _installed(name):
        return False
    if name == "cupy":
        return _cupy_device_count() > 0
    return True


def get_namespace(backend: Any = None) -> ModuleType:
    """Return the array API namespace for a backend name or for an array.

    Parameters
    ----------
    backend : str, array, namespace or None
        A backend name (``"numpy"``, ``"array_api_strict"``, ``"torch"``, ``"jax"``,
        ``"cupy"``), an array of any of those libraries, a namespace (returned as it is), or
        None for NumPy.

    Returns
    -------
    module
        A namespace that follows the array API standard (through ``array_api_compat`` where
        the library needs it).

    Raises
    ------
    ValueError
        For an unknown name; the message lists the backends available here.
    ImportError
        For a known backend that is not installed (or, for CuPy, has no GPU).
    TypeError
        For an object that is neither a name nor an array.

    Examples
    --------
    >>> import numpy as np
    >>> import portable_net as pn
    >>> xp = pn.get_namespace("numpy")
    >>> xp.__name__
    'array_api_compat.numpy'
    >>> pn.get_namespace(np.ones(3)) is xp  # an array's namespace
    True
    """
    if backend is None:
        backend = "numpy"
    if isinstance(backend, ModuleType):
        return backend
    if isinstance(backend, str):
        name = backend.strip().lower().replace("-", "_")
        if name not in _NAMESPACE_MODULES:
            raise ValueError(
                f"unknown backend {backend!r}; known backends are {', '.join(BACKENDS)} "
                f"and the ones available here are {', '.join(_usable_names()) or 'none'}"
            )
        if not _usable(name):
            why = (
                "CuPy is installed but no CUDA device is visible"
                if (name == "cupy" and _installed(name))
                else f"{_NAMESPACE_MODULES[name][0]} is not installed"
            )
            raise ImportError(
                f"backend {name!r} is not available: {why}; available here: "
                f"{', '.join(_usable_names()) or 'none'} (install it with "
                f"pip install 'portable-net[{name}]')"
            )
        return importlib.import_module(_NAMESPACE_MODULES[name][1])
    if array_api_compat.is_array_api_obj(backend):
        return array_namespace(backend)
    raise TypeError(
        f"backend must be a backend name, an array or a namespace, not {type(backend).__name__}"
    )


def array_namespace(*xs: Any) -> ModuleType:
    """The standard namespace of the arrays, as ``array_api_compat.array_namespace``; JAX
    arrays' own (``jax.numpy``) taken from them: array-api-compat's first look at a JAX
    array makes an empty array to ask it, which compiles two programs once per process
    (during a JAX user's first fit)."""
    if xs and all([array_api_compat.is_jax_array(x) and not isinstance(x, np.ndarray) for x in xs]):
        return cast(ModuleType, xs[0].__array_namespace__())
    return cast(ModuleType, array_api_compat.array_namespace(*xs))


def _usable_names() -> list[str]:
    return [name for name in BACKENDS if _usable(name)]


def available_backends() -> dict[str, tuple[str, ...]]:
    """Return the backends usable here, each with the names of its devices.

    A backend is usable when its library imports and lists at least one device (CuPy: a
    CUDA GPU is visible).

    Returns
    -------
    dict of str to tuple of str
        Backend name to device names, e.g. ``{"numpy": ("cpu",), "torch": ("cpu",
        "cuda:0")}``. A device name is what ``--device`` and the ``device=`` arguments
        accept.

    Examples
    --------
    >>> import portable_net as pn
    >>> pn.available_backends()["numpy"]
    ('cpu',)
    """
    out = {}
    for name in _usable_names():
        try:
            devices = tuple(label for label, _ in _devices(name))
        except Exception:  # a backend that imports but cannot list devices is not usable
            continue
        if devices:
            out[name] = devices
    return out


def _devices(name: str) -> list[tuple[str, Any]]:
    """(label, device object) pairs for a backend, default device first."""
    if name == "numpy":
        return [("cpu", "cpu")]
    if name == "array_api_strict":
        import array_api_strict

        return [(d._device, d) for d in array_api_strict.__array_namespace_info__().devices()]
    if name == "torch":
        import torch

        pairs = [("cpu", torch.device("cpu"))]
        if torch.cuda.is_available():
            pairs += [
                (f"cuda:{i}", torch.device("cuda", i)) for i in range(torch.cuda.device_count())
            ]
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            pairs.append(("mps", torch.device("mps")))
        return pairs
    if name == "jax":
        import jax

        seen = []
        for platform in (None, "cpu"):
            try:
                devs = jax.devices(platform) if platform else jax.devices()
            except RuntimeError:
                continue
            seen += [d for d in devs if d not in seen]
        return [(f"{d.platform}:{d.id}", d) for d in seen]
    if name == "cupy":
        import cupy

        return [(f"cuda:{i}", cupy.cuda.Device(i)) for i in range(_cupy_device_count())]
    raise ValueError(f"unknown backend {name!r}")


@functools.lru_cache(maxsize=16)
def backend_name(xp: ModuleType) -> str:
    """The backend name of a namespace (``"numpy"``, ``"torch"``, ...)."""
    checks = (
        ("numpy", array_api_compat.is_numpy_namespace),
        ("array_api_strict", array_api_compat.is_array_api_strict_namespace),
        ("torch", array_api_compat.is_torch_namespace),
        ("jax", array_api_compat.is_jax_namespace),
        ("cupy", array_api_compat.is_cupy_namespace),
    )
    for name, check in checks:
        if check(xp):
            return name
    return getattr(xp, "__name__", type(xp).__name__)


def resolve_device(xp: ModuleType, device: Any) -> Any:
    """Turn a device name (``"cpu"``, ``"cuda:0"``) into the backend's device object.

    None stays None (the backend's default device); a device object passes through.
    """
    if device is None or not isinstance(device, str):
        return device
    name = backend_name(xp)
    if name not in _NAMESPACE_MODULES:
        return device
    pairs = _devices(name)
    wanted = device.strip().lower()
    for label, obj in pairs:
        aliases = {label.lower()}
        if label.endswith(":0"):
            aliases.add(label[:-2].lower())  # "cuda" means "cuda:0"
        if name == "jax" and label.startswith(("gpu:", "cuda:")):
            aliases |= {"cuda" + label[3:] if label.startswith("gpu") else "gpu" + label[4:]}
        if wanted in aliases:
            return obj
    raise ValueError(
        f"device {device!r} is not available for backend {name!r}; "
        f"available: {', '.join(label for label, _ in pairs)}"
    )


def device_of(x: Any) -> Any:
    """The device of an array (``array_api_compat.device``: NumPy < 2 has no ``.device``)."""
    return array_api_compat.device(x)


def library_name(x: Any) -> str:
    """A short name of the library that owns an array, for error messages."""
    for name, check in (
        ("numpy", array_api_compat.is_numpy_array),
        ("torch", array_api_compat.is_torch_array),
        ("jax", array_api_compat.is_jax_array),
        ("cupy", array_api_compat.is_cupy_array),
    ):
        if check(x):
            return name
    return type(x).__module__.split(".")[0]  # array_api_strict, dask, ...


def device_label(device: Any) -> str:
    """A readable name for a device object."""
    inner = getattr(device, "_device", None)  # array_api_strict.Device
    if isinstance(inner, str):
        return inner
    platform = getattr(device, "platform", None)  # jax
    if isinstance(platform, str) and hasattr(device, "id"):
        return f"{platform}:{device.id}"
    if type(device).__module__.startswith("cupy"):
        return f"cuda:{device.id}"
    return str(device)


def check_holds_data(name: str, x: Any) -> None:
    """Refuse an array whose values cannot be computed with here: a torch tensor on the
    ``meta`` device (a shape without data: ValueError) or a sparse torch tensor (any layout
    but the dense one: TypeError), before the library's own errors would name neither."""
    if not array_api_compat.is_torch_array(x):
        return
    if getattr(x, "is_meta", False):
        raise ValueError(
            f"{name} is a torch tensor on the 'meta' device, which holds no data (a shape "
            "only); create it with its values on a real device ('cpu', 'cuda')"
        )
    layout = str(getattr(x, "layout", "torch.strided"))
    if layout != "torch.strided":
        raise TypeError(
            f"{name} is a sparse torch tensor (layout {layout}); pass a dense tensor "
            f"({name}.to_dense())"
        )


def namespace_and_device(arrays: Mapping[str, Any]) -> tuple[ModuleType, Any]:
    """The one namespace and device shared by the named arrays.

    Raises TypeError naming the arguments when an argument is not an array, or when
    arrays from different libraries or on different devices are mixed; and as
    :func:`check_holds_data` for a tensor without data (meta device) or a sparse one.
    """
    first_name = first = None
    for arg, x in arrays.items():
        if not array_api_compat.is_array_api_obj(x) or isinstance(x, (int, float, complex)):
            raise TypeError(
                f"{arg} must be an array (numpy, torch, jax, cupy or array_api_strict), "
                f"not {type(x).__name__}"
            )
        if array_api_compat.is_torch_array(x):
            check_holds_data(arg, x)
        if first is None:
            first_name, first = arg, x
            continue
        # arrays of one type are of one library; library_name tells the others apart
        if type(x) is not type(first) and library_name(x) != library_name(first):
            raise TypeError(
                f"{first_name} is a {library_name(first)} array but {arg} is a "
                f"{library_name(x)} array; pass arrays of one library "
                f"(convert one of them with that library's asarray)"
            )
    if first is None:
        raise TypeError("no array given")
    xp = array_namespace(first)
    dev = array_api_compat.device(first)
    for arg, x in arrays.items():
        d = array_api_compat.device(x)
        if d != dev:
            raise TypeError(
                f"{first_name} is on device {device_label(dev)} but {arg} is on device "
                f"{device_label(d)}; move them to one device"
            )
    return xp, dev


def float_dtype(xp: ModuleType, device: Any, dtype: Any = None) -> Any:
    """The floating dtype to create data in: float64 unless asked otherwise.

    A backend without float64 (JAX without x64, some devices) gets its default floating
    dtype and a warning; asking for float64 explicitly there is an error.
    """
    info = xp.__array_namespace_info__()
    available = info.dtypes(device=device, kind="real floating")
    if dtype is None:
        if "float64" in available:
            return available["float64"]
        default = info.default_dtypes(device=device)["real floating"]
        hint = (
            " (enable float64 with jax.config.update('jax_enable_x64', True))"
            if backend_name(xp) == "jax"
            else ""
        )
        warnings.warn(
            f"{backend_name(xp)} has no float64 on this device{hint}; using {default}, "
            "so results will differ from float64 backends beyond float32 precision",
            UserWarning,
            stacklevel=3,
        )
        return default
    key = dtype_name(dtype)
    if key not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', not {dtype!r}")
    if key not in available:
        hint = (
            " (enable it with jax.config.update('jax_enable_x64', True))"
            if backend_name(xp) == "jax"
            else ""
        )
        raise ValueError(f"dtype {key} is not available on {backend_name(xp)} on this device{hint}")
    return available[key]


def dtype_name(dtype: Any) -> str:
    """'float32' for "float32", numpy.float32, torch.float32, jax.numpy.float32, ..."""
    if isinstance(dtype, str):
        return dtype
    for attr in ("name", "__name__"):
        name = getattr(dtype, attr, None)
        if isinstance(name, str):
            return name
    inner = getattr(dtype, "dtype", None)  # jax.numpy scalar types
    inner_name = getattr(inner, "name", None)
    if inner is not None and isinstance(inner_name, str):
        return inner_name
    return str(dtype).rsplit(".", 1)[-1]


def int_dtype(xp: ModuleType, device: Any) -> Any:
    """The backend's default integer dtype on a device (int64, or int32 for JAX without x64)."""
    return xp.__array_namespace_info__().default_dtypes(device=device)["integral"]


def to_namespace(xp_arg: Any) -> ModuleType:
    """Resolve an ``xp=`` argument: None (NumPy), a backend name or a namespace."""
    if xp_arg is not None and not isinstance(xp_arg, (str, ModuleType)):
        raise TypeError(
            f"xp must be None, a backend name or a namespace, not {type(xp_arg).__name__}"
        )
    return get_namespace(xp_arg)


def from_host(xp: ModuleType, a: Any, dtype: Any = None, device: Any = None) -> Any:
    """``xp.asarray(a, dtype=dtype, device=device)`` for data on the host (NumPy arrays,
    lists), which may share ``a``'s memory where the library can (NumPy).

    On JAX, ``jax.device_put`` of a NumPy copy in that dtype (never ``a``'s memory: JAX
    arrays are immutable): it compiles nothing, where ``jnp.asarray`` compiles a conversion
    for each new shape.
    """
    if backend_name(xp) == "jax":
        import jax

        host = np.array(a, dtype=None if dtype is None else np.dtype(dtype), copy=True)
        return jax.device_put(host, device)
    return xp.asarray(a, dtype=dtype, device=device)


def to_host(x: Any) -> np.ndarray:
    """A NumPy copy of an array of any supported library, moved off its device if needed."""
    if isinstance(x, np.ndarray):
        return np.array(x, copy=True)
    if array_api_compat.is_torch_array(x):
        return np.array(x.detach().cpu().numpy(), copy=True)
    if array_api_compat.is_cupy_array(x):
        return cast(np.ndarray, x.get())
    if array_api_compat.is_jax_array(x):
        return np.array(x, copy=True)
    try:  # array_api_strict and any other DLPack producer: ask for a CPU copy
        return np.from_dlpack(x, device="cpu", copy=True)
    except (TypeError, BufferError, ValueError, RuntimeError, AttributeError):
        pass
    try:  # NumPy < 2.1 has no device/copy arguments
        return np.array(np.from_dlpack(x), copy=True)
    except (TypeError, BufferError, ValueError, RuntimeError, AttributeError):
        return np.array(x, copy=True)
