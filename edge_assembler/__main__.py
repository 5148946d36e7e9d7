import sys

from edge_assembler.cli import main

sys.exit(main())
