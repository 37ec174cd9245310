"""Reference Keyspaces SigV4 responses from AWS's own plugin (cassandra-sigv4), for keyspaces_plugin.rs.

Reads a JSON list of cases on stdin ({akid, secret, token, region, challenge, millis}), writes a JSON list of
responses: SigV4Authenticator.evaluate_challenge with the plugin's clock frozen at `millis`.
"""

import datetime
import json
import sys

import boto3
import cassandra_sigv4.auth as plugin


def frozen(millis):
    at = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=millis)

    class Frozen(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return at

    return Frozen


def answer(case):
    plugin.datetime = frozen(case["millis"])
    session = boto3.session.Session(
        aws_access_key_id=case["akid"],
        aws_secret_access_key=case["secret"],
        aws_session_token=case["token"],
        region_name=case["region"],
    )
    authenticator = plugin.SigV4AuthProvider(session).new_authenticator("host")
    assert authenticator.initial_response() == b"SigV4\0\0"
    return authenticator.evaluate_challenge(case["challenge"].encode())


print(json.dumps([answer(c) for c in json.load(sys.stdin)]))
