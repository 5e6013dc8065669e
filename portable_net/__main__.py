"""``python -m portable_net`` is the ``portable-net`` command."""

from .cli import main

raise SystemExit(main())
