"""`python -m rnnlib train|generate|bench` (see rnnlib.tools.cli)."""

import sys

from rnnlib.tools.cli import main

sys.exit(main())
