"""`python -m bench`: the core benchmarks (HLS, then DASH) with same-run baselines."""

import sys

from bench import core, dash

sys.exit(core.main() | dash.main())
