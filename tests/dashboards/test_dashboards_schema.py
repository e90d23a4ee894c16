"""Every dashboard validates against the JSON schema of Grafana's own Dashboard type
(@grafana/schema of the last Grafana 10, 11 and 12 releases, see scripts/gen-grafana-schema.sh),
under several configurations."""

from __future__ import annotations

import jsonschema
import pytest
from dashboard_helpers import CONFIGS, SCHEMAS, built

from x509_mixin.generator.grafana_files import import_variant

VALIDATORS = {version: jsonschema.Draft7Validator(schema) for version, schema in SCHEMAS.items()}


def errors(model: dict, version: str = "12.4.11") -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATORS[version].iter_errors(model)]


def test_schemas_of_grafana_10_11_and_12_are_committed():
    assert sorted(SCHEMAS) == ["10.4.19", "11.6.16", "12.4.11"]
    for version, schema in SCHEMAS.items():
        assert schema["$comment"].startswith(f"@grafana/schema {version} Dashboard, by ts-json-schema-generator 2.9.0")
        assert schema["definitions"]["Dashboard"]["additionalProperties"] is False


@pytest.mark.parametrize("version", sorted(SCHEMAS))
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_every_dashboard_validates_against_grafana_schema(config, version):
    models = built(config)
    assert len(models) == 3
    for name, model in models.items():
        assert errors(model, version) == [], name
        assert model["schemaVersion"] == 38


def test_import_variant_is_the_same_model_plus_inputs_and_requires():
    for model in built("defaults").values():
        variant = import_variant(model)
        assert [k for k in variant][:2] == ["__inputs", "__requires"]
        rest = {k: v for k, v in variant.items() if not k.startswith("__")}
        assert errors(rest) == []
        ds = next(v for v in rest["templating"]["list"] if v["type"] == "datasource")
        assert ds["current"] == {"selected": True, "text": "${DS_PROMETHEUS}", "value": "${DS_PROMETHEUS}"}
        assert variant["__inputs"][0]["name"] == "DS_PROMETHEUS"


@pytest.mark.parametrize("version", sorted(SCHEMAS))
def test_the_schema_catches_grafanalib_legacy_shapes(version):
    # Proof the schema is strict: grafanalib's own output (string datasource, rows, style) fails.
    import json

    from grafanalib import core as G
    from grafanalib._gen import DashboardEncoder

    raw = json.loads(
        json.dumps(
            G.Dashboard(
                title="t",
                uid="u",
                panels=[G.TimeSeries(title="p", dataSource="${datasource}", gridPos=G.GridPos(h=1, w=1, x=0, y=0))],
            ).to_json_data(),
            cls=DashboardEncoder,
        )
    )
    found = errors(raw, version)
    assert any("'rows'" in e or "'style'" in e for e in found)
    assert any(e.startswith("panels/0: ") for e in found)  # the string datasource, nulls...
