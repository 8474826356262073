"""``python -m reenactor.eval``: same as ``reenactor eval``."""

import sys

from reenactor.eval.cli import main

sys.exit(main())
