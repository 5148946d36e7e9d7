#!/bin/sh
# The compose stack's rules bundle: a signing key (made once, kept in KEYS_DIR), a trust
# store naming it and the demo rules built, self-tested and signed with it.
#   demo-bundle.sh [RULES_DIR [KEYS_DIR [TRUST_DIR [BUNDLES_DIR]]]]
# Every run builds a new revision (`--revision auto` follows the clock); the edges watch
# BUNDLES_DIR and TRUST_DIR and switch to it.
set -eu
rules=${1:-/usr/share/edge-assembler/rules/demo}
keys=${2:-/var/lib/edge-assembler-demo/keys}
trust=${3:-/etc/edge-assembler/trust}
bundles=${4:-/etc/edge-assembler/bundles}

if [ ! -e "$keys/demo.key" ]; then
    edge-assembler bundle keygen --out "$keys/demo" --names demo --comment "compose demo"
fi
edge-assembler bundle trust "$keys/demo.pub.json" --out "$trust/trust.json"
edge-assembler bundle build "$rules" --name demo --revision auto --expires 7d \
    --key "$keys/demo.key" --out "$bundles/demo.tar.gz"
