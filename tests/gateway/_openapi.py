"""Check real responses against the gateway's own OpenAPI document."""

from __future__ import annotations

from typing import Any

import requests
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate


class ApiSpec:
    """An OpenAPI 3.1 document, validated, that checks responses against itself."""

    def __init__(self, doc: dict[str, Any]) -> None:
        validate(doc)
        self.doc = doc

    def schema(self, name: str) -> dict[str, Any]:
        return self._rooted({"$ref": f"#/components/schemas/{name}"})

    def _rooted(self, schema: dict[str, Any]) -> dict[str, Any]:
        # component references resolve against the document's root
        return {**schema, "components": self.doc.get("components", {})}

    def validate(self, name: str, instance: Any) -> None:
        OAS31Validator(self.schema(name)).validate(instance)

    def check(self, method: str, path: str, response: requests.Response) -> Any:
        """Assert ``response`` is documented for the operation and matches its schema."""
        operation = self.doc["paths"][path][method.lower()]
        documented = operation["responses"]
        entry = documented.get(str(response.status_code)) or documented.get("default")
        assert entry is not None, f"{method} {path}: status {response.status_code} undocumented"
        media_type = response.headers["content-type"].split(";")[0].strip()
        content = entry.get("content", {})
        assert media_type in content, f"{method} {path}: {media_type} not documented"
        for name, header in entry.get("headers", {}).items():
            if name in response.headers:
                OAS31Validator(self._rooted(header["schema"])).validate(response.headers[name])
        if media_type != "application/json":
            return response.text
        body = response.json()
        OAS31Validator(self._rooted(content[media_type]["schema"])).validate(body)
        return body
