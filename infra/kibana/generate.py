"""Writes newsflow.ndjson: the Kibana saved objects for the `articles` alias (data view, saved
search, Lens visualisations, dashboard). The NDJSON is what users import (`make kibana-import`);
this script is its readable source. Run it after editing, and commit both:

    python3 infra/kibana/generate.py

tests/unit/test_index_kibana.py checks the file is current and that every reference and
field resolves against the index mapping (services/index/template.json).
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).with_name("newsflow.ndjson")
DATA_VIEW = "newsflow-articles"
ALIAS = "articles"
TIME_FIELD = "published"
CORE = "8.8.0"
QUERY = {"query": "", "language": "kuery"}


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def data_view() -> dict:
    return {
        "id": DATA_VIEW, "type": "index-pattern", "coreMigrationVersion": CORE, "typeMigrationVersion": "8.0.0",
        "attributes": {"title": ALIAS, "name": "newsflow articles", "timeFieldName": TIME_FIELD,
                       "fields": "[]", "runtimeFieldMap": "{}", "fieldFormatMap": "{}", "typeMeta": "{}"},
        "references": [],
    }


def saved_search() -> dict:
    source = {"query": QUERY, "filter": [], "highlightAll": True, "version": True,
              "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"}
    return {
        "id": "newsflow-articles-search", "type": "search", "coreMigrationVersion": CORE, "typeMigrationVersion": "8.0.0",
        "attributes": {"title": "newsflow: articles", "description": "Every indexed article, newest first",
                       "columns": ["title", "site", "language", "topic", "author"], "sort": [[TIME_FIELD, "desc"]],
                       "kibanaSavedObjectMeta": {"searchSourceJSON": _dumps(source)}},
        "references": [{"id": DATA_VIEW, "name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern"}],
    }


def _terms(field: str, label: str, size: int, order_by: str = "count") -> dict:
    return {"label": label, "dataType": "string", "operationType": "terms", "sourceField": field, "isBucketed": True,
            "scale": "ordinal", "params": {"size": size, "orderBy": {"type": "column", "columnId": order_by},
                                           "orderDirection": "desc", "otherBucket": False, "missingBucket": False}}


def _count() -> dict:
    return {"label": "Articles", "dataType": "number", "operationType": "count", "sourceField": "___records___",
            "isBucketed": False, "scale": "ratio", "params": {"emptyAsNull": True}, "customLabel": True}


def lens(obj_id: str, title: str, visualization_type: str, columns: dict, visualization: dict) -> dict:
    layer = "layer1"
    state = {
        "datasourceStates": {"formBased": {"layers": {layer: {
            "columns": columns, "columnOrder": list(columns), "incompleteColumns": {}}}}},
        "visualization": {**visualization, **({"layerId": layer} if "layers" not in visualization else {})},
        "query": QUERY, "filters": [],
    }
    return {
        "id": obj_id, "type": "lens", "coreMigrationVersion": CORE, "typeMigrationVersion": "8.6.0",
        "attributes": {"title": title, "description": "", "visualizationType": visualization_type, "state": state},
        "references": [{"type": "index-pattern", "id": DATA_VIEW, "name": f"indexpattern-datasource-layer-{layer}"}],
    }


def bar(obj_id: str, title: str, field: str, label: str, size: int = 15) -> dict:
    columns = {"term": _terms(field, label, size), "count": _count()}
    vis = {"preferredSeriesType": "bar_horizontal", "legend": {"isVisible": False, "position": "right"},
           "valueLabels": "show", "layers": [{"layerId": "layer1", "layerType": "data", "seriesType": "bar_horizontal",
                                              "xAccessor": "term", "accessors": ["count"]}]}
    return lens(obj_id, title, "lnsXY", columns, vis)


def donut(obj_id: str, title: str, field: str, label: str, size: int = 10) -> dict:
    columns = {"term": _terms(field, label, size), "count": _count()}
    vis = {"shape": "donut", "layers": [{"layerId": "layer1", "layerType": "data", "primaryGroups": ["term"],
                                         "metrics": ["count"], "numberDisplay": "percent", "categoryDisplay": "default",
                                         "legendDisplay": "default", "nestedLegend": False}]}
    return lens(obj_id, title, "lnsPie", columns, vis)


def over_time() -> dict:
    columns = {
        "date": {"label": "Published", "dataType": "date", "operationType": "date_histogram", "sourceField": TIME_FIELD,
                 "isBucketed": True, "scale": "interval", "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False}},
        "site": _terms("site", "Site", 10),
        "count": _count(),
    }
    vis = {"preferredSeriesType": "bar_stacked", "legend": {"isVisible": True, "position": "right"}, "valueLabels": "hide",
           "layers": [{"layerId": "layer1", "layerType": "data", "seriesType": "bar_stacked", "xAccessor": "date",
                       "splitAccessor": "site", "accessors": ["count"]}]}
    return lens("newsflow-articles-over-time", "newsflow: articles over time by site", "lnsXY", columns, vis)


def dashboard(panels: list[dict]) -> dict:
    layout, references = [], []
    for n, (obj, (x, y, w, h)) in enumerate(panels, start=1):
        index = str(n)
        layout.append({"version": "8.19.0", "type": obj["type"], "gridData": {"x": x, "y": y, "w": w, "h": h, "i": index},
                       "panelIndex": index, "embeddableConfig": {"enhancements": {}}, "panelRefName": f"panel_{index}"})
        references.append({"name": f"{index}:panel_{index}", "type": obj["type"], "id": obj["id"]})
    return {
        "id": "newsflow-overview", "type": "dashboard", "coreMigrationVersion": CORE, "typeMigrationVersion": "8.7.0",
        "attributes": {
            "title": "newsflow: overview", "description": "What the pipeline indexed: volume by site, languages, topics, entities, keywords",
            "panelsJSON": _dumps(layout), "timeRestore": True, "timeFrom": "now-30d", "timeTo": "now",
            "refreshInterval": {"pause": True, "value": 60000},
            "optionsJSON": _dumps({"useMargins": True, "syncColors": False, "syncCursor": True, "syncTooltips": False, "hidePanelTitles": False}),
            "kibanaSavedObjectMeta": {"searchSourceJSON": _dumps({"query": QUERY, "filter": []})},
        },
        "references": references,
    }


def objects() -> list[dict]:
    search = saved_search()
    charts = {
        "time": over_time(),
        "languages": donut("newsflow-languages", "newsflow: languages", "language", "Language"),
        "topics": donut("newsflow-topics", "newsflow: topics", "topic", "Topic"),
        "persons": bar("newsflow-top-persons", "newsflow: top people", "entities.persons", "Person"),
        "organizations": bar("newsflow-top-organizations", "newsflow: top organisations", "entities.organizations", "Organisation"),
        "locations": bar("newsflow-top-locations", "newsflow: top places", "entities.locations", "Place"),
        "keywords": bar("newsflow-top-keywords", "newsflow: top keywords", "keywords", "Keyword", size=25),
    }
    board = dashboard([
        (charts["time"], (0, 0, 32, 14)), (charts["languages"], (32, 0, 16, 14)),
        (charts["persons"], (0, 14, 16, 16)), (charts["organizations"], (16, 14, 16, 16)), (charts["locations"], (32, 14, 16, 16)),
        (charts["keywords"], (0, 30, 24, 18)), (charts["topics"], (24, 30, 24, 18)),
        (search, (0, 48, 48, 20)),
    ])
    return [data_view(), search, *charts.values(), board]


def render() -> str:
    return "".join(_dumps(obj) + "\n" for obj in objects())


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}")
