"""The Kibana saved objects (infra/kibana/newsflow.ndjson), checked without a Kibana: every line,
every reference between objects, and every field they use against the index mapping."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from newsflow.index.layout import index_template

REPO = Path(__file__).resolve().parents[2]
NDJSON = REPO / "infra" / "kibana" / "newsflow.ndjson"
TYPES = {"index-pattern", "search", "lens", "visualization", "dashboard"}
AGGREGATABLE = {"keyword", "date", "long", "integer", "short", "byte", "double", "float", "half_float", "boolean", "ip"}
RECORDS = "___records___"   # Lens's "count of documents" needs no field


def mapped_fields(properties: dict, prefix: str = "") -> dict[str, str]:
    """Every searchable path of the mapping -> its type, multi-fields included."""
    fields = {}
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        if "properties" in spec:
            fields.update(mapped_fields(spec["properties"], f"{path}."))
            continue
        if spec.get("enabled") is False:
            continue
        fields[path] = spec.get("type", "object")
        for sub, sub_spec in spec.get("fields", {}).items():
            fields[f"{path}.{sub}"] = sub_spec["type"]
    return fields


MAPPING = mapped_fields(index_template()["template"]["mappings"]["properties"])


def load() -> list[dict]:
    lines = NDJSON.read_text(encoding="utf-8").splitlines()
    assert lines, "no saved objects"
    objects = []
    for number, line in enumerate(lines, start=1):
        obj = json.loads(line)  # every line is one JSON object
        assert isinstance(obj, dict), f"line {number} is not an object"
        assert {"id", "type", "attributes", "references"} <= obj.keys(), f"line {number} misses keys"
        assert obj["type"] in TYPES, f"line {number}: unknown type {obj['type']}"
        assert obj["attributes"].get("title"), f"line {number} has no title"
        objects.append(obj)
    return objects


OBJECTS = load()
BY_ID = {(o["type"], o["id"]): o for o in OBJECTS}


def of_type(kind: str) -> list[dict]:
    return [o for o in OBJECTS if o["type"] == kind]


def references(obj: dict) -> dict[str, dict]:
    return {ref["name"]: ref for ref in obj["references"]}


def test_the_ndjson_is_what_the_generator_writes():
    spec = importlib.util.spec_from_file_location("kibana_generate", NDJSON.with_name("generate.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert NDJSON.read_text(encoding="utf-8") == module.render(), "run python3 infra/kibana/generate.py"


def test_ids_are_unique_and_the_issue_s_objects_are_there():
    assert len(BY_ID) == len(OBJECTS)
    titles = " | ".join(o["attributes"]["title"] for o in OBJECTS)
    for kind in ("index-pattern", "search", "dashboard"):
        assert of_type(kind), f"no {kind}"
    for what in ("over time by site", "people", "organisations", "places", "languages", "keywords", "topics"):
        assert what in titles, f"no visualisation of {what}"


def test_every_reference_resolves_to_an_object_in_the_file():
    for obj in OBJECTS:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in BY_ID, f"{obj['id']}: dangling reference {ref}"


def test_the_data_view_is_on_the_alias_with_a_mapped_time_field():
    (view,) = of_type("index-pattern")
    assert view["attributes"]["title"] == "articles"
    assert MAPPING[view["attributes"]["timeFieldName"]] == "date"


def test_the_saved_search_uses_the_data_view_and_mapped_fields():
    for search in of_type("search"):
        source = json.loads(search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        assert references(search)[source["indexRefName"]]["type"] == "index-pattern"
        for column in search["attributes"]["columns"]:
            assert column in MAPPING, f"{search['id']}: column {column} is not mapped"
        for field, _direction in search["attributes"]["sort"]:
            assert MAPPING.get(field) in AGGREGATABLE, f"{search['id']}: cannot sort on {field}"


def test_every_lens_layer_has_its_data_view_and_every_column_a_usable_field():
    for chart in of_type("lens"):
        state = chart["attributes"]["state"]
        layers = state["datasourceStates"]["formBased"]["layers"]
        refs = references(chart)
        for layer_id, layer in layers.items():
            assert refs[f"indexpattern-datasource-layer-{layer_id}"]["type"] == "index-pattern"
            assert layer["columnOrder"] and set(layer["columnOrder"]) == set(layer["columns"])
            for column_id, column in layer["columns"].items():
                field = column["sourceField"]
                if column["operationType"] == "count":
                    assert field == RECORDS
                    continue
                assert field in MAPPING, f"{chart['id']}: {field} is not mapped"
                assert MAPPING[field] in AGGREGATABLE, f"{chart['id']}: {field} ({MAPPING[field]}) cannot be aggregated"
                if column["operationType"] == "date_histogram":
                    assert MAPPING[field] == "date"
                order = column.get("params", {}).get("orderBy", {})
                if order.get("type") == "column":
                    assert order["columnId"] in layer["columns"], f"{chart['id']}: orders by a missing column"
        used = {a for vis_layer in state["visualization"].get("layers", [])
                for key in ("xAccessor", "splitAccessor", "accessors", "primaryGroups", "metrics")
                for a in ([vis_layer[key]] if isinstance(vis_layer.get(key), str) else vis_layer.get(key, []))}
        columns = {c for layer in layers.values() for c in layer["columns"]}
        assert used and used <= columns, f"{chart['id']}: the chart shows columns it does not define"


def test_every_dashboard_panel_resolves_to_a_saved_object():
    for board in of_type("dashboard"):
        panels = json.loads(board["attributes"]["panelsJSON"])
        refs = references(board)
        assert len(panels) == len(refs)
        assert len({p["panelIndex"] for p in panels}) == len(panels)
        for panel in panels:
            ref = refs[f"{panel['panelIndex']}:{panel['panelRefName']}"]
            assert ref["type"] == panel["type"] and (ref["type"], ref["id"]) in BY_ID
            grid = panel["gridData"]
            assert grid["i"] == panel["panelIndex"] and 0 <= grid["x"] and grid["x"] + grid["w"] <= 48
        json.loads(board["attributes"]["optionsJSON"])
        json.loads(board["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])


@pytest.mark.parametrize("field", ["entities.persons", "entities.organizations", "entities.locations",
                                   "keywords", "topic", "language", "site", "published"])
def test_the_facets_the_dashboard_needs_are_in_the_mapping(field):
    assert MAPPING[field] in AGGREGATABLE
