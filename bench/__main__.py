"""`python -m bench`: the core benchmarks (HLS, then DASH, then decide) with same-run baselines."""

import sys

from bench import core, dash, decide

sys.exit(core.main() | dash.main() | decide.main())
