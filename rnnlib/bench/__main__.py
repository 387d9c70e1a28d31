"""`python -m rnnlib.bench` (see rnnlib.bench.command)."""

import sys

from rnnlib.bench.command import main

sys.exit(main())
