"""``python -m benchmarks …``: see benchmarks.harness (``make bench``)."""

import sys

from .harness import main

sys.exit(main())
