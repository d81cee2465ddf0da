"""`python -m cli ARGS...`: the same as `sigil ARGS...`."""

import sys

from .main import main

sys.exit(main())
