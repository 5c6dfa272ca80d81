#!/usr/bin/env bash
# Lints docs/openapi.yaml with the Redocly CLI version pinned in package-lock.json.
# Installs it with `npm ci` on first use. Exits non-zero when the lint finds errors.
set -euo pipefail

cd "$(dirname "$0")"

if [ ! -d node_modules ]; then
    npm ci --no-audit --no-fund
fi

# No usage telemetry, no update notices.
export REDOCLY_TELEMETRY=off
export REDOCLY_SUPPRESS_UPDATE_NOTICE=true

exec npx --no-install redocly lint --config redocly.yaml ../../docs/openapi.yaml
