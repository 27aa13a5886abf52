"""``python -m decaylab.cli``: the ``decaylab`` command."""

import sys

from decaylab.cli import main

sys.exit(main())
