"""schemathesis against the server's own OpenAPI document (GET operations): no 5xx, and
every response — status, content type, body, headers — as the document describes it."""

from __future__ import annotations

import time

import pytest
import requests

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

MAX_EXAMPLES = 20  # per operation
BUDGET_SECONDS = 90
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def test_get_operations_conform_to_the_servers_own_document(server):
    response = requests.get(f"{server.url}/openapi", params={"f": "json"}, timeout=30)
    assert response.status_code == 200
    # from_dict rather than from_url: loaded from a URL, schemathesis leaves that URL's own
    # operation (/openapi) out of the run.
    schema = schemathesis.openapi.from_dict(response.json())
    operations = [result.ok() for result in schema.get_all_operations()]
    gets = [operation for operation in operations if operation.method.upper() == "GET"]
    assert {"/", "/openapi", "/conformance", "/collections", "/health", "/metrics", "/stats",
            "/catalogue.jsonld"} <= {op.path for op in gets}
    # Per collection: description, queryables, schema, items, item, and the four downloads.
    assert len(gets) == 8 + 9 * len(requests.get(f"{server.url}/collections", params={"f": "json"}, timeout=30).json()["collections"])
    started = time.monotonic()
    failures: dict[str, str] = {}
    # Random feature ids all answer 404: one more run on an existing one reaches the 200.
    runs = [(operation, {}) for operation in gets] + [
        (operation, {"featureId": str(server.frame["id"].iloc[1])}) for operation in gets if "{featureId}" in operation.path
    ]

    for operation, path_parameters in runs:

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,  # the same cases on every run
            phases=[Phase.explicit, Phase.generate],  # no shrinking: report, don't minimise
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(path_parameters=path_parameters or None))
        def run(case):
            case.call_and_validate(base_url=server.url, checks=CHECKS, timeout=15)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 — collect every operation's failure
            # (schemathesis reports check failures as a FailureGroup, a BaseExceptionGroup)
            failures[f"{operation.label} {path_parameters or ''}"] = str(exc)[:3000]

    elapsed = time.monotonic() - started
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
    assert elapsed < BUDGET_SECONDS, f"{elapsed:.0f} s"


def test_document_offers_only_what_the_server_accepts(server):
    """Every query parameter of the document passes the server's parameter table."""
    import yaml

    from server.http.openapi import parameter_drift

    document = requests.get(f"{server.url}/openapi", params={"f": "json"}, timeout=30).json()
    config = yaml.safe_load((server.data / ".runtime" / "pygeoapi.yml").read_text(encoding="utf-8"))
    assert parameter_drift(document, config) == []

    def refs(node):
        if isinstance(node, dict):
            yield from ([node["$ref"]] if "$ref" in node else [])
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    assert all(ref.startswith("#/") for ref in refs(document))  # self-contained: readable offline
    assert "vendorSpecificParameters" not in str(document)  # unknown parameters are refused
