"""Local tooling: DynamoDB Local launcher and other developer-only helpers (never used in Lambda)."""
