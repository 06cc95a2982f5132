"""AWS clients, one per service and region in a process: building one costs ~50 ms (its service
model is read and its endpoint rules resolved); boto3 clients are thread-safe, and a Lambda
container keeps them across invocations. Imports boto3 only when a client is first asked for."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=16)
def client(service: str, region: str) -> Any:
    import boto3

    return boto3.client(service, region_name=region)
