"""`python -m rnnlib bench` (see rnnlib.tools.bench.command)."""

import sys

from rnnlib.tools.bench.command import main

sys.exit(main())
