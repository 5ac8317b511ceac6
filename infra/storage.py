"""The S3 bucket of batch imports (`IMPORTS_BUCKET`): the drop folder `imports/<group>/<file>.csv`, browser
uploads under `uploads/`, and the per-job reports under `results/`; and the bucket its access logs go to."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct

IMPORTS_PREFIX = "imports/"
IMPORTS_SUFFIX = ".csv"
UPLOADS_PREFIX = "uploads/"
REPORTS_PREFIX = "results/"
WORK_PREFIX = "work/"  # an import job's staged chunks, needed while the job runs
WORK_DAYS = 7


class Storage(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, production: bool, reports_days: int, imports_days: int
    ) -> None:
        super().__init__(scope, construct_id)
        # Kept on stack deletion in every stage: CloudFormation cannot delete a bucket that still holds objects.
        removal = cdk.RemovalPolicy.RETAIN
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=cdk.Duration.days(90))],
            removal_policy=removal,
        )
        self.bucket = s3.Bucket(
            self,
            "Files",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=production,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="files/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-reports", prefix=REPORTS_PREFIX, expiration=cdk.Duration.days(reports_days)
                ),
                s3.LifecycleRule(
                    id="expire-imports", prefix=IMPORTS_PREFIX, expiration=cdk.Duration.days(imports_days)
                ),
                s3.LifecycleRule(
                    id="expire-uploads", prefix=UPLOADS_PREFIX, expiration=cdk.Duration.days(imports_days)
                ),
                s3.LifecycleRule(id="expire-work", prefix=WORK_PREFIX, expiration=cdk.Duration.days(WORK_DAYS)),
                s3.LifecycleRule(
                    id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=cdk.Duration.days(1)
                ),
                s3.LifecycleRule(id="expire-old-versions", noncurrent_version_expiration=cdk.Duration.days(30)),
            ],
            removal_policy=removal,
        )
