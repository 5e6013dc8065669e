"""The package's version, in one place (``portable_net.__version__`` and saved files)."""

__version__ = "0.1.0"
