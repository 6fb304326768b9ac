"""``python -m signfer.cli``: the same as the ``signfer`` command."""

import sys

from signfer.cli import main

sys.exit(main())
