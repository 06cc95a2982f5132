"""Deploy a stage's package with the AWS CLI, through an S3 bucket (the template is over the 51,200
bytes CloudFormation takes inline):

    python infra/deploy.py --stage dev --bucket my-artefacts \
        SenderEmail=billing@example.com AlarmEmail=oncall@example.com
    make deploy STAGE=dev BUCKET=my-artefacts PARAMS="SenderEmail=billing@example.com AlarmEmail=oncall@example.com"

runs (after `make package`; `--dry-run` prints them):

    aws cloudformation package --template-file dist/<stage>/template.json --s3-bucket <bucket>
        --s3-prefix imbill-<stage> --output-template-file dist/<stage>/packaged.json --use-json
    aws cloudformation deploy --template-file dist/<stage>/packaged.json --stack-name imbill-<stage>
        --s3-bucket <bucket> --s3-prefix imbill-<stage> --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND
        --parameter-overrides KEY=VALUE...

`package` uploads deployment.zip and rewrites CodeUri to its S3 location; `deploy --s3-bucket` uploads
the template itself and creates the change set from its URL (up to 1,000,000 bytes; inline, 51,200).
tests/deploy/test_package_smoke.py runs these same commands against moto (--endpoint-url).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INLINE_LIMIT = 51_200  # bytes of a template passed inline (--template-body)
S3_LIMIT = 1_000_000  # bytes of a template read from S3 (--template-url)


def commands(stage: str, bucket: str, overrides: list[str], *, dist: Path = ROOT / "dist",
             stack: str | None = None, extra: list[str] | None = None) -> list[list[str]]:
    """The AWS CLI commands of a deploy; `extra` is added to each (e.g. --endpoint-url in a test)."""
    folder = dist / stage
    prefix = ["--s3-bucket", bucket, "--s3-prefix", f"imbill-{stage}"]
    package = ["aws", "cloudformation", "package", "--template-file", str(folder / "template.json"), *prefix,
               "--output-template-file", str(folder / "packaged.json"), "--use-json", *(extra or [])]
    deploy = ["aws", "cloudformation", "deploy", "--template-file", str(folder / "packaged.json"),
              "--stack-name", stack or f"imbill-{stage}", *prefix,
              "--capabilities", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND", "--no-fail-on-empty-changeset",
              *(["--parameter-overrides", *overrides] if overrides else []), *(extra or [])]
    return [package, deploy]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--bucket", required=True, help="an S3 bucket of the account, in the stack's region")
    parser.add_argument("--stack", help="stack name (default imbill-<stage>)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    parser.add_argument("overrides", nargs="*", help="template parameters, KEY=VALUE (SenderEmail is required)")
    args = parser.parse_args(argv)
    template = ROOT / "dist" / args.stage / "template.json"
    if not template.exists():
        parser.error(f"{template} is missing: run `make package STAGE={args.stage}` first")
    for cmd in commands(args.stage, args.bucket, args.overrides, stack=args.stack):
        print("+ " + shlex.join(cmd), flush=True)
        if not args.dry_run:
            subprocess.run(cmd, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
