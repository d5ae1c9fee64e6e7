"""``python -m snnlab``: the same command line as the ``snnlab`` script."""
from .cli import main

raise SystemExit(main())
