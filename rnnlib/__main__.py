"""`python -m rnnlib train|generate|bench` (see rnnlib.cli)."""

import sys

from rnnlib.cli import main

sys.exit(main())
