"""AWS partitions and region names, from botocore's own bundled data (`botocore/data/partitions.json`).

The one place that maps a region to its partition: the offline rules, the preflight, the `FireworksAwsAccess`
component and the moto seed all ask here, so a partition AWS adds (such as `aws-eusc`) arrives with botocore.
The file is read directly rather than through a botocore Session: a Session reads the AWS profile, and a bad
AWS_PROFILE would make even this offline question raise.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path
from typing import Any


@functools.lru_cache(maxsize=1)
def _partitions() -> tuple[tuple[str, frozenset[str], re.Pattern[str]], ...]:
    spec = importlib.util.find_spec("botocore")  # locate without importing: check() stays cheap
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("botocore is not installed")
    data: dict[str, Any] = json.loads(
        (Path(next(iter(spec.submodule_search_locations))) / "data" / "partitions.json").read_text(encoding="utf-8")
    )
    return tuple((p["id"], frozenset(p.get("regions", {})), re.compile(p["regionRegex"])) for p in data["partitions"])


def partition_for_region(region: str | None) -> str | None:
    """The partition of `region` (`aws`, `aws-cn`, `aws-us-gov`, `aws-eusc`, ...), or None when no partition's
    region list or pattern admits it. Listed regions win over patterns, as in botocore."""
    if not region:
        return None
    parts = _partitions()
    for pid, regions, _ in parts:
        if region in regions:
            return pid
    for pid, _, pattern in parts:
        if pattern.match(region):
            return pid
    return None


def partition_or_default(region: str | None) -> str:
    """The partition of `region`, or `aws` when it is unknown (for building ARNs before validation has run)."""
    return partition_for_region(region) or "aws"
