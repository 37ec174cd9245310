"""Reference IAM auth tokens from boto3/botocore at a frozen time, for tests/token_boto3.rs.

Reads a JSON list of cases on stdin, writes a JSON list of tokens on stdout.
RDS uses boto3's own generate_db_auth_token; ElastiCache and MemoryDB have no boto3 helper, so they use the
construction from the AWS documentation (botocore RequestSigner.generate_presigned_url, scheme stripped).
"""

import datetime
import json
import sys
from urllib.parse import ParseResult, urlencode, urlunparse

import boto3
import botocore.auth
from botocore.model import ServiceId
from botocore.signers import RequestSigner


def freeze(epoch_seconds):
    fixed = datetime.datetime.fromtimestamp(epoch_seconds, datetime.timezone.utc)
    fixed = fixed.replace(tzinfo=None)
    # SigV4Auth.add_auth reads the time through this module-level name.
    botocore.auth.get_current_datetime = lambda remove_tzinfo=True: fixed


def token(case):
    freeze(case["time"])
    session = boto3.session.Session(
        aws_access_key_id=case["akid"],
        aws_secret_access_key=case["secret"],
        aws_session_token=case.get("token"),
        region_name=case["region"],
    )
    if case["kind"] == "rds":
        client = session.client("rds")
        return client.generate_db_auth_token(
            DBHostname=case["host"], Port=case["port"], DBUsername=case["user"], Region=case["region"]
        )
    service = case["kind"]
    signer = RequestSigner(
        ServiceId(service), case["region"], service, "v4", session.get_credentials(), session.events
    )
    query = {"Action": "connect", "User": case["user"]}
    if case.get("serverless"):
        query["ResourceType"] = "ServerlessCache"
    url = urlunparse(
        ParseResult(scheme="https", netloc=case["host"], path="/", query=urlencode(query), params="", fragment="")
    )
    signed = signer.generate_presigned_url(
        {"method": "GET", "url": url, "body": {}, "headers": {}, "context": {}},
        operation_name="connect",
        expires_in=900,
        region_name=case["region"],
    )
    return signed.removeprefix("https://")


json.dump([token(c) for c in json.load(sys.stdin)], sys.stdout)
