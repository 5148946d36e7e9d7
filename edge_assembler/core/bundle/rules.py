"""Step 8 of BUNDLES §4.5: compile the rules with the same validator the builder uses (OPA#4009)."""

from collections.abc import Mapping

from edge_assembler.core.bundle.errors import BundleError
from edge_assembler.core.bundle.manifest import Manifest
from edge_assembler.core.rules import CompiledRules, RulesError, compile_bundle


def rules_compiler(manifest: Manifest, files: Mapping[str, bytes]) -> CompiledRules:
    """The ``compile`` callable passed to ``verify`` in production. ``RulesError`` becomes a
    ``BundleError`` with the same code: rules_invalid, unsupported_schema or selftest_failed."""
    try:
        return compile_bundle(
            files, load_order=manifest.load_order, schema_version=manifest.rules_schema_version
        )
    except RulesError as err:
        raise BundleError(err.code, str(err)) from err
