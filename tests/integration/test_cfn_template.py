"""The SAM template for the scheduled sync: cfn-lint clean and wired to the handler's settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cfnlint.api import lint_file
from cfnlint.decode import decode

from quantforge.data import lambda_handler

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deploy" / "aws" / "template.yaml"


def cfn_lint(path: Path) -> list[str]:
    """Run cfn-lint in-process (its Python API) and return the matches as text."""
    return [str(match) for match in lint_file(path)]


@pytest.fixture(scope="module")
def template() -> dict:
    data, problems = decode(str(TEMPLATE))
    assert not problems, problems
    return data


def test_template_passes_cfn_lint() -> None:
    assert cfn_lint(TEMPLATE) == []


def test_cfn_lint_catches_a_broken_copy(tmp_path: Path) -> None:
    """Guard against a linter that passes everything (e.g. a transform silently skipped)."""
    broken = TEMPLATE.read_text().replace("MemorySize: 2048", "MemorySize: lots")
    (tmp_path / "t.yaml").write_text(broken)
    problems = cfn_lint(tmp_path / "t.yaml")
    assert any("'lots' is not of type 'integer'" in p for p in problems), problems


def test_schedule_function_and_permissions(template: dict) -> None:
    fn = template["Resources"]["SyncFunction"]
    assert fn["Type"] == "AWS::Serverless::Function"
    props = fn["Properties"]
    (event,) = props["Events"].values()
    assert event["Type"] == "Schedule"
    assert event["Properties"]["Schedule"] == "rate(15 minutes)"
    assert props["ReservedConcurrentExecutions"] == 1
    # the handler the image runs is the module under test
    dockerfile = (REPO / "deploy" / "aws" / fn["Metadata"]["Dockerfile"].split("/")[-1]).read_text()
    assert 'CMD ["quantforge.data.lambda_handler.handler"]' in dockerfile
    assert callable(lambda_handler.handler)
    # every variable the template sets is one the handler reads (or a runtime knob)
    variables = set(props["Environment"]["Variables"])
    known = set(lambda_handler._ENV.values()) | {"QUANTFORGE_LOG_LEVEL", "NUMBA_CACHE_DIR"}
    assert variables <= known
    assert {"QUANTFORGE_SYMBOLS", "QUANTFORGE_INTERVALS", "QUANTFORGE_CATALOG_BUCKET"} <= variables
    # IAM: S3 only, scoped to the catalog bucket (objects to the prefix)
    (policy,) = props["Policies"]
    resources = []
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert all(action.startswith("s3:") for action in statement["Action"])
        assert "*" not in statement["Action"]
        resources.append(statement["Resource"]["Fn::Sub"])
    assert resources == [
        "arn:${AWS::Partition}:s3:::${CatalogBucketName}",
        "arn:${AWS::Partition}:s3:::${CatalogBucketName}/${CatalogPrefix}*",
    ]


def test_parameters_match_handler_formats(template: dict) -> None:
    params = template["Parameters"]
    assert re.fullmatch(params["CatalogPrefix"]["AllowedPattern"], "catalog/binance")
    job = lambda_handler.job_from(
        {},
        {
            "QUANTFORGE_CATALOG_BUCKET": "my-bucket",
            "QUANTFORGE_CATALOG_PREFIX": params["CatalogPrefix"]["Default"],
            "QUANTFORGE_SYMBOLS": params["Symbols"]["Default"],
            "QUANTFORGE_INTERVALS": params["Intervals"]["Default"],
            "QUANTFORGE_SINCE": params["Since"]["Default"],
        },
    )
    assert job.catalog == "s3://my-bucket/catalog"
    assert job.symbols == ["BTCUSDT", "ETHUSDT"]
