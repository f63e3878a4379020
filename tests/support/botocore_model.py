"""Whether a raw JSON answer conforms to botocore's output shape (no unknown members, right types,
required present), and the client factories the sandbox tests use."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import botocore.session
from botocore.model import Shape, StructureShape

TRUSTED_CALLER = "999900001111"

ClientFactory = Callable[..., Any]
AioClientFactory = Callable[..., AbstractAsyncContextManager[Any]]
ApiCall = Callable[..., Any]


def _check_value(value: Any, shape: Shape, path: str, protocol: str) -> None:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), f"{path}: expected object, got {value!r}"
        assert isinstance(shape, StructureShape)
        by_wire_name = {
            member.serialization.get("name", name): member for name, member in shape.members.items()
        }
        for key, item in value.items():
            assert key in by_wire_name, f"{path}: {key!r} is not a member of {shape.name}"
            _check_value(item, by_wire_name[key], f"{path}.{key}", protocol)
        for required in shape.required_members:
            wire_name = shape.members[required].serialization.get("name", required)
            assert wire_name in value, f"{path}: required member {wire_name!r} missing"
    elif kind == "list":
        assert isinstance(value, list), f"{path}: expected array"
        for index, item in enumerate(value):
            _check_value(item, shape.member, f"{path}[{index}]", protocol)  # type: ignore[attr-defined]
    elif kind == "map":
        assert isinstance(value, dict), f"{path}: expected map"
        for key, item in value.items():
            _check_value(item, shape.value, f"{path}[{key}]", protocol)  # type: ignore[attr-defined]
    elif kind == "string":
        assert isinstance(value, str), f"{path}: expected string, got {value!r}"
        if shape.enum:
            assert value in shape.enum, f"{path}: {value!r} not in {shape.enum}"
    elif kind == "timestamp":
        # JSON bodies carry epoch seconds unless the model says otherwise.
        assert shape.serialization.get("timestampFormat", "unixTimestamp") == "unixTimestamp"
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{path}: expected epoch"
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}: expected integer"
    elif kind in ("double", "float"):
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{path}: expected number"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{path}: expected boolean"


def assert_matches_model(service: str, operation: str, raw_body: bytes) -> None:
    model = botocore.session.get_session().get_service_model(service)
    output_shape = model.operation_model(operation).output_shape
    assert output_shape is not None
    _check_value(json.loads(raw_body), output_shape, operation, model.protocol)
