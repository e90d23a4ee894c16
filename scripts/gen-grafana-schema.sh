#!/usr/bin/env bash
# Regenerates tests/dashboards/schemas/grafana-dashboard-<version>.schema.json: the JSON schema
# of the `Dashboard` type that Grafana publishes in the npm package @grafana/schema (the
# classic dashboard JSON), for the last release of Grafana 10, 11 and 12, produced by
# ts-json-schema-generator. Run by hand when the pins change; the results are committed so
# that tests and CI never need npm.
set -euo pipefail
GRAFANA_SCHEMA_VERSIONS=(10.4.19 11.6.16 12.4.11)
GENERATOR_VERSION=2.9.0
cd "$(dirname "$0")/.."
OUT_DIR=tests/dashboards/schemas
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT_DIR"
for version in "${GRAFANA_SCHEMA_VERSIONS[@]}"; do
  dir="$TMP/$version"
  mkdir -p "$dir"
  (cd "$dir" && npm init -y >/dev/null &&
    npm install --no-audit --no-fund --ignore-scripts --silent \
      "@grafana/schema@$version" "ts-json-schema-generator@$GENERATOR_VERSION")
  # raw/dashboard/x holds the generated Dashboard type of the classic (v1) model; the file
  # is dashboard_types.gen.d.ts up to 11.x and types.gen.d.ts from 12.
  source=$(find "$dir/node_modules/@grafana/schema/dist" -path "*raw/dashboard/x/*types.gen.d.ts" | sort | head -1)
  "$dir/node_modules/.bin/ts-json-schema-generator" --path "$source" --type Dashboard --no-type-check \
    --out "$dir/schema.json"
  out="$OUT_DIR/grafana-dashboard-$version.schema.json"
  python3 - "$dir/schema.json" "$out" "$version" "$GENERATOR_VERSION" <<'PY'
import json, sys
src, out, pkg, gen = sys.argv[1:]
schema = json.load(open(src))
schema = {"$comment": f"@grafana/schema {pkg} Dashboard, by ts-json-schema-generator {gen}; "
          "regenerate with scripts/gen-grafana-schema.sh", **schema}
with open(out, "w") as fh:
    json.dump(schema, fh, indent=2)
    fh.write("\n")
PY
  echo "wrote $out"
done
