#!/usr/bin/env bash
# Lists the `crate::` imports between the top-level modules of crates/slod
# and fails when they form a cycle (docs/ARCHITECTURE.md: layers import
# downwards only). CI runs it; `-v` prints the edges.
set -euo pipefail
cd "$(dirname "$0")/../crates/slod/src"
edges=$(grep -rnE 'crate::' --include=*.rs . \
  | grep -vE '^[^:]+:[0-9]+:\s*//' \
  | perl -ne 'm{^\./([a-z_]+)} or next; $f=$1;
      while (/crate::(\{[^}]*\}|[a-z_]+)/g) {
        for $m (split /[\s,{}]+/, $1) { $m =~ s/::.*//;
          print "$f $m\n" if $m ne "" && $m ne $f && $m ne "self" } }' \
  | sort -u)
[ "${1:-}" = "-v" ] && echo "$edges"
if ! echo "$edges" | tsort >/dev/null 2>/tmp/module-cycles.err; then
  echo "import cycle between the modules of crates/slod:"; cat /tmp/module-cycles.err; exit 1
fi
echo "crates/slod: $(echo "$edges" | wc -l) module imports, no cycle"
