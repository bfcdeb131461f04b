"""Machine-readable contracts, generated from the pydantic events so they cannot disagree with
the code: one JSON Schema per event version, an index of the topics and an AsyncAPI document.

`python -m contracts.generate` (or `make contracts`) writes them; `--check` writes nothing and
exits 1 listing the files that drifted from the code (the unit tests run the same check).
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from contracts.envelope import Envelope
from contracts.registry import EVENT_MODELS
from contracts.topics import TOPICS, TopicSpec

CONTRACTS_DIR = Path(__file__).resolve().parent
ROOT = CONTRACTS_DIR.parent
SCHEMAS_DIR = CONTRACTS_DIR / "schemas"
INDEX_PATH = SCHEMAS_DIR / "index.json"
ASYNCAPI_PATH = CONTRACTS_DIR / "asyncapi.json"

TITLE = "cobranca integration events"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# Documentation only: the real address comes from COBRANCA_KAFKA_BOOTSTRAP at run time.
DOC_SERVER = "localhost:9092"


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def package_version() -> str:
    # pyproject.toml rather than installed metadata, which is stale until the next install.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return str(project["version"])


def schema_filename(event_type: str, schema_version: int) -> str:
    return f"{event_type}.v{schema_version}.json"


def event_schema(model: type[Envelope]) -> dict[str, Any]:
    # Validation mode: the schema says what a consumer accepts, defaults included.
    return {"$schema": JSON_SCHEMA_DIALECT, **model.model_json_schema(mode="validation")}


def topic_key_field(topic: TopicSpec) -> str:
    keys = {model.partition_key_field for model in topic.events}
    if len(keys) != 1:
        # Events of one topic keyed by different fields lose their relative order.
        raise ValueError(f"topic {topic.name} mixes partition keys {sorted(keys)}")
    return keys.pop()


def topics_index() -> dict[str, Any]:
    versions = {model: key for key, model in EVENT_MODELS.items()}
    return {
        "topics": {
            topic.name: {
                "owner": topic.owner,
                "description": topic.description,
                "partitions": topic.partitions,
                "partition_key_field": topic_key_field(topic),
                "events": [
                    {
                        "type": versions[model][0],
                        "schema_version": versions[model][1],
                        "schema": schema_filename(*versions[model]),
                    }
                    for model in topic.events
                ],
            }
            for topic in TOPICS
        }
    }


def build_app() -> FastStream:
    """The FastStream app whose AsyncAPI document lists every topic and its events; also
    usable as `faststream docs gen --factory contracts.generate:build_app`."""
    broker = KafkaBroker(DOC_SERVER, description="Kafka (address set by COBRANCA_KAFKA_BOOTSTRAP)")
    for topic in TOPICS:
        # A plain union (anyOf), not one discriminated on `type`: two versions of one event
        # share a `type` and may share a topic.
        payload: Any = topic.events[0] if len(topic.events) == 1 else Union[topic.events]  # noqa: UP007
        broker.publisher(
            topic.name, title=topic.name, description=topic.description, schema=payload
        )
    spec = AsyncAPI(
        title=TITLE,
        version=package_version(),
        description="Events the cobranca services publish to Kafka; generated, do not edit.",
    )
    return FastStream(broker, specification=spec)


def asyncapi_document() -> dict[str, Any]:
    with warnings.catch_warnings():
        # FastStream only warns when two channels or schemas share a name and one is dropped.
        warnings.simplefilter("error", RuntimeWarning)
        document: dict[str, Any] = build_app().schema.to_specification().to_jsonable()
    keys = {topic.name: topic_key_field(topic) for topic in TOPICS}
    for topic in TOPICS:
        # FastStream leaves the Kafka bindings' partitions and key empty; TOPICS knows them.
        document["channels"][topic.name]["bindings"]["kafka"]["partitions"] = topic.partitions
        message = document["components"]["messages"][f"{topic.name}:Message"]
        message["bindings"] = {
            "kafka": {
                "bindingVersion": "0.4.0",
                "key": {"type": "string", "description": f"The event's {keys[topic.name]}"},
            }
        }
    return document


def render() -> dict[Path, str]:
    """Every generated file and its content."""
    files = {
        SCHEMAS_DIR / schema_filename(*key): dumps(event_schema(model))
        for key, model in EVENT_MODELS.items()
    }
    files[INDEX_PATH] = dumps(topics_index())
    files[ASYNCAPI_PATH] = dumps(asyncapi_document())
    return files


def stale_files(files: dict[Path, str]) -> list[Path]:
    """JSON files in schemas/ that nothing generates any more."""
    present = SCHEMAS_DIR.glob("*.json") if SCHEMAS_DIR.is_dir() else iter(())
    return sorted(path for path in present if path not in files)


def drifted(files: dict[Path, str] | None = None) -> list[Path]:
    """Files that are missing, differ from the code, or are no longer generated."""
    files = render() if files is None else files
    changed = [
        path
        for path, text in files.items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]
    return sorted(changed + stale_files(files))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contracts.generate", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 listing drifted files"
    )
    args = parser.parse_args(argv)
    files = render()
    drift = drifted(files)
    if args.check:
        for path in drift:
            print(f"drifted: {path.relative_to(ROOT)}", file=sys.stderr)
        if drift:
            print("run `make contracts` and commit the result", file=sys.stderr)
        return 1 if drift else 0
    SCHEMAS_DIR.mkdir(parents=True, exist_ok=True)
    for path in drift:
        if path in files:
            path.write_text(files[path], encoding="utf-8", newline="\n")
            print(f"wrote: {path.relative_to(ROOT)}")
        else:
            path.unlink()
            print(f"removed: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
