"""The node side of signed rule bundles: on-disk store and state, the activation manager,
and the sources that feed it (BUNDLES §4.6-4.9)."""
