#!/usr/bin/env bash
# The project's test command (README): unit tests, the attack suite and the sqllogictest files,
# in-process. Installs what the tests need; safe to run on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets "$@"
