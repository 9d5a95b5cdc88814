"""The served OpenAPI document: constraints moved where tools look, every answer documented."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.openapi import OpenAPIConfig
from litestar.testing import TestClient

from todostack.bootstrap import create_app
from todostack.delivery.http.api.openapi import complete_document
from todostack.runtime import Settings
from todostack.runtime.settings import DatabaseSettings


def _doc(schema: dict[str, Any]) -> dict[str, Any]:
    return {"paths": {}, "components": {"schemas": {"S": {"type": "object", "properties": {"f": schema}}}}}


def _field(document: dict[str, Any]) -> Any:
    return complete_document(document)["components"]["schemas"]["S"]["properties"]["f"]


@pytest.mark.parametrize(
    ("given", "served"),
    [
        (
            {"oneOf": [{"type": "string"}, {"type": "null"}], "maxLength": 40, "pattern": "^x$"},
            {"type": ["string", "null"], "maxLength": 40, "pattern": "^x$"},
        ),
        (
            {"oneOf": [{"type": "integer"}], "minimum": -5, "maximum": 5},
            {"type": "integer", "minimum": -5, "maximum": 5, "format": "int64"},
        ),
        (
            {"oneOf": [{"type": "array", "items": {"type": "string", "maxLength": 3}}], "maxItems": 20},
            {"type": "array", "items": {"type": "string", "maxLength": 3}, "maxItems": 20},
        ),
        (
            {"oneOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
            {"type": ["string", "null"], "format": "date-time", "maxLength": 64},
        ),
        (
            {"type": ["null", "string"], "enum": ["asc", "desc", None]},
            {"type": ["null", "string"], "enum": ["asc", "desc", None]},
        ),
        (
            {"oneOf": [{"$ref": "#/components/schemas/X"}, {"type": "null"}]},
            {"oneOf": [{"$ref": "#/components/schemas/X"}, {"type": "null"}]},
        ),
    ],
    ids=["nullable-string", "optional-integer", "optional-array", "date-time", "already-typed", "ref-kept"],
)
def test_constraints_beside_a_one_of_move_into_it(given: dict[str, Any], served: dict[str, Any]) -> None:
    assert _field(_doc(given)) == served


def test_every_operation_documents_429_500_and_its_headers() -> None:
    document: dict[str, Any] = {
        "paths": {
            "/api/v1/x": {"get": {"responses": {"200": {"description": "ok"}}, "security": [{"BearerAuth": []}]}},
            "/todobackend": {"post": {"responses": {"201": {"description": "made"}}}},
        }
    }
    served = complete_document(document)
    private, public = served["paths"]["/api/v1/x"]["get"], served["paths"]["/todobackend"]["post"]
    for operation in (private, public):
        assert {"429", "500"} <= set(operation["responses"])
        assert "Retry-After" in operation["responses"]["429"]["headers"]
        assert all("RateLimit" in r["headers"] for r in operation["responses"].values())
    assert private["security"] == [{"BearerAuth": []}]
    assert public["security"] == [{}]  # anonymous on purpose, said so
    assert public["responses"]["201"]["headers"]["Access-Control-Allow-Origin"]["required"] is True
    assert private["responses"]["200"]["headers"]["Access-Control-Allow-Origin"]["required"] is False
    assert document["paths"]["/todobackend"]["post"]["responses"] == {"201": {"description": "made"}}  # untouched


def test_the_document_is_built_while_the_worker_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Built on the first request instead, its 50-300 ms of CPU held that worker's event loop."""
    builds: list[int] = []
    build = OpenAPIConfig.to_openapi_schema

    def counted(config: OpenAPIConfig) -> Any:
        builds.append(1)
        return build(config)

    monkeypatch.setattr(OpenAPIConfig, "to_openapi_schema", counted)
    app = create_app(Settings(database=DatabaseSettings(url="memory://")))
    assert builds == []
    with TestClient(app) as client:
        assert builds == [1]  # at start-up, before any request
        assert client.get("/api/openapi.json").status_code == 200
        assert client.get("/api/openapi.json").json()["info"]["title"] == "Todo Stack"
    assert builds == [1]
