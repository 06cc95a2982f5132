"""imbill: billing backend of a cloud IM service."""

VERSION = "0.1.0"  # = pyproject's [project] version (tests/unit/test_service_endpoints.py); GET /v1/health
