#!/usr/bin/env bash
# One release build serves the README's serve command (`cargo run --release -p zicht-cli`) and the
# benchmark (`cargo build --release -p zicht-bench`) only if every dependency they share is built
# with the same features in both: a crate whose features differ is rebuilt, and with it everything
# above it (all of DataFusion). This compares the two feature sets and names any crate that differs.
set -euo pipefail
cd "$(dirname "$0")/.."

features() {
    cargo tree --quiet -e normal,build -p "$1" --prefix none -f '{p} [{f}]' |
        sed -e 's/ (\*)//; s/ (proc-macro)//' | sort -u
}

cli=$(mktemp)
bench=$(mktemp)
trap 'rm -f "$cli" "$bench"' EXIT
features zicht-cli >"$cli"
features zicht-bench >"$bench"

# Per crate (name and version) its feature lists, one line; then the crates in both builds whose
# lists differ. (A crate can appear with two lists, e.g. as a build and a normal dependency.)
by_crate() { awk '{ key = $1 " " $2; $1 = ""; $2 = ""; lists[key] = lists[key] $0 } END { for (k in lists) print k "\t" lists[k] }' "$1" | sort; }
differ=$(join -t $'\t' <(by_crate "$cli") <(by_crate "$bench") | awk -F'\t' '$2 != $3 { print "  " $1 ":" $2 "  vs " $3 }')
if [ -n "$differ" ]; then
    echo "zicht-cli and zicht-bench build shared crates with different features (each difference" >&2
    echo "rebuilds DataFusion); enable the same features in both, e.g. in crates/cli/Cargo.toml:" >&2
    echo "$differ" >&2
    exit 1
fi
echo "zicht-cli and zicht-bench share one build of every common dependency"
