"""DynamoDB tables, derived from the app's PynamoDB models so that the deployment cannot drift from the code:
names `{TABLE_PREFIX}-{table}`, keys, GSIs and streams as the models declare them, and TTL on `ttl` wherever a
model has that attribute (epoch seconds, which is what DynamoDB's TTL reads)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from chalicelib.adapters.dynamo_models import ALL_MODELS

TTL_ATTRIBUTE = "ttl"

_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER, "B": dynamodb.AttributeType.BINARY}
_STREAMS = {
    "NEW_AND_OLD_IMAGES": dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    "NEW_IMAGE": dynamodb.StreamViewType.NEW_IMAGE,
    "OLD_IMAGE": dynamodb.StreamViewType.OLD_IMAGE,
    "KEYS_ONLY": dynamodb.StreamViewType.KEYS_ONLY,
}
_PROJECTIONS = {
    "ALL": dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
}


@dataclass(frozen=True)
class IndexSpec:
    name: str
    hash_key: tuple[str, str]
    range_key: tuple[str, str] | None
    projection: str
    non_key_attributes: tuple[str, ...]


@dataclass(frozen=True)
class TableSpec:
    name: str
    hash_key: tuple[str, str]
    range_key: tuple[str, str] | None
    indexes: tuple[IndexSpec, ...]
    stream: str | None
    ttl: bool


def _keys(key_schema: list[dict[str, str]], types: dict[str, str]) -> tuple[tuple[str, str], tuple[str, str] | None]:
    hash_key = next(k["AttributeName"] for k in key_schema if k["KeyType"] == "HASH")
    range_key = next((k["AttributeName"] for k in key_schema if k["KeyType"] == "RANGE"), None)
    return (hash_key, types[hash_key]), ((range_key, types[range_key]) if range_key else None)


def table_specs() -> list[TableSpec]:
    """One spec per model in `ALL_MODELS`, read from the schema PynamoDB itself would create."""
    specs = []
    for name, model in ALL_MODELS.items():
        schema = cast(dict[str, Any], model._get_schema())
        types = {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}
        hash_key, range_key = _keys(schema["key_schema"], types)
        indexes = []
        for index in schema.get("global_secondary_indexes", []):
            index_hash, index_range = _keys(index["key_schema"], types)
            projection = index["projection"]
            indexes.append(
                IndexSpec(
                    name=index["index_name"],
                    hash_key=index_hash,
                    range_key=index_range,
                    projection=projection["ProjectionType"],
                    non_key_attributes=tuple(projection.get("NonKeyAttributes", ())),
                )
            )
        if schema.get("local_secondary_indexes"):
            raise ValueError(f"{name}: local secondary indexes are not supported by infra/tables.py yet")
        attribute_names = {attribute.attr_name for attribute in model.get_attributes().values()}
        specs.append(
            TableSpec(
                name=name,
                hash_key=hash_key,
                range_key=range_key,
                indexes=tuple(indexes),
                stream=getattr(model.Meta, "stream_view_type", None),
                ttl=TTL_ATTRIBUTE in attribute_names,
            )
        )
    return specs


def _attribute(key: tuple[str, str]) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key[0], type=_TYPES[key[1]])


class Tables(Construct):
    """Every table: on demand, encrypted (AWS managed KMS key), point-in-time recovery, and in production
    deletion protection and kept on stack deletion."""

    def __init__(self, scope: Construct, construct_id: str, *, prefix: str, production: bool) -> None:
        super().__init__(scope, construct_id)
        self.by_name: dict[str, dynamodb.Table] = {}
        for spec in table_specs():
            table = dynamodb.Table(
                self,
                spec.name.capitalize(),
                table_name=f"{prefix}-{spec.name}",
                partition_key=_attribute(spec.hash_key),
                sort_key=_attribute(spec.range_key) if spec.range_key else None,
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                stream=_STREAMS[spec.stream] if spec.stream else None,
                time_to_live_attribute=TTL_ATTRIBUTE if spec.ttl else None,
                deletion_protection=production,
                removal_policy=cdk.RemovalPolicy.RETAIN if production else cdk.RemovalPolicy.DESTROY,
            )
            for index in spec.indexes:
                table.add_global_secondary_index(
                    index_name=index.name,
                    partition_key=_attribute(index.hash_key),
                    sort_key=_attribute(index.range_key) if index.range_key else None,
                    projection_type=_PROJECTIONS[index.projection],
                    non_key_attributes=list(index.non_key_attributes) or None,
                )
            self.by_name[spec.name] = table

    def __getitem__(self, name: str) -> dynamodb.Table:
        return self.by_name[name]
