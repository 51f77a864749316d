#!/usr/bin/env bash
# Installs what the tests need (system packages, a running Docker engine) and runs every test of
# the workspace against the real dependencies. Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --no-build
# Each module imports only from below it: no new import cycle, and known ones only shrink.
python3 scripts/module-cycles.py --allow scripts/module-cycles.allow
# Benchmarks are not run here, only compiled, so they cannot rot unnoticed.
cargo build --workspace --all-targets --locked
cargo test --workspace --locked
