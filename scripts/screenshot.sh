#!/usr/bin/env bash
# Makes docs/screenshot.png again (the README's picture of the browser
# page) from a real conversation: builds the server and
# examples/screenshot.rs, which runs the server, users on TCP and the page
# in headless Chromium (apt-get install chromium). Any argument is the
# PNG's path instead.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin evchat-server --example screenshot
cargo run --quiet --example screenshot -- "$@"
