"""``python -m edge_assembler.core.rules > rules/schema.json``: the documents' JSON Schema."""

import sys

from edge_assembler.core.rules.schema import json_schema

sys.stdout.buffer.write(json_schema())
