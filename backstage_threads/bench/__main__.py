"""Entry point: ``python -m backstage_threads.bench``."""

from __future__ import annotations

import sys

from ._cli import main

sys.exit(main())
