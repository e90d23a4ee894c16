#!/usr/bin/env bash
# Regenerates tests/dashboards/grafana-dashboard.schema.json: the JSON schema of the
# `Dashboard` type that Grafana publishes in the npm package @grafana/schema (the classic
# dashboard JSON that Grafana 10-12 import), produced by ts-json-schema-generator.
# Run by hand when the pins change; the result is committed so tests and CI never need npm.
set -euo pipefail
GRAFANA_SCHEMA_VERSION=12.4.11
GENERATOR_VERSION=2.9.0
cd "$(dirname "$0")/.."
OUT=tests/dashboards/grafana-dashboard.schema.json
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm init -y >/dev/null &&
  npm install --no-audit --no-fund --ignore-scripts --silent \
    "@grafana/schema@$GRAFANA_SCHEMA_VERSION" "ts-json-schema-generator@$GENERATOR_VERSION")
# raw/dashboard/x is the generated Dashboard type of the classic (v1) dashboard model.
"$TMP/node_modules/.bin/ts-json-schema-generator" \
  --path "$TMP/node_modules/@grafana/schema/dist/types/raw/dashboard/x/types.gen.d.ts" \
  --type Dashboard --no-type-check --out "$TMP/schema.json"
python3 - "$TMP/schema.json" "$OUT" "$GRAFANA_SCHEMA_VERSION" "$GENERATOR_VERSION" <<'PY'
import json, sys
src, out, pkg, gen = sys.argv[1:]
schema = json.load(open(src))
schema = {"$comment": f"@grafana/schema {pkg} Dashboard, by ts-json-schema-generator {gen}; "
          "regenerate with scripts/gen-grafana-schema.sh", **schema}
with open(out, "w") as fh:
    json.dump(schema, fh, indent=2, sort_keys=False)
    fh.write("\n")
PY
echo "wrote $OUT"
