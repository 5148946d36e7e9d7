"""The rules language and the decision engine (DESIGN §5): documents of assets and rules
compiled once per bundle (``compile_bundle``), and ``decide`` per request."""

from edge_assembler.core.rules.compile import CompiledRules, compile_bundle, compile_documents
from edge_assembler.core.rules.decide import Decision, TraceEntry, decide
from edge_assembler.core.rules.errors import RulesError
from edge_assembler.core.rules.facts import BreakFact, ManifestFacts, dash_facts, hls_facts
from edge_assembler.core.rules.schema import SUPPORTED_SCHEMA_VERSIONS

__all__ = [
    "SUPPORTED_SCHEMA_VERSIONS",
    "BreakFact",
    "CompiledRules",
    "Decision",
    "ManifestFacts",
    "RulesError",
    "TraceEntry",
    "compile_bundle",
    "compile_documents",
    "dash_facts",
    "decide",
    "hls_facts",
]
