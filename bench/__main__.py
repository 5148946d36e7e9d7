"""`python -m bench`: the core benchmark (parse, edit, render vs the m3u8 library)."""

import sys

from bench.core import main

sys.exit(main())
