"""AWS-side helpers for iamwire's test rig, run with the rig venv's Python (boto3 inside).

Subcommands (JSON in on stdin where noted, JSON out on stdout; errors as {"error": {"code", "message"}}):
  setup ENDPOINT            stdin: {"users": [...], "roles": [...]}; creates them through an unauthenticated
                            window that is opened for exactly these calls and closed again afterwards
  assume-role ENDPOINT      stdin: {"access_key_id", "secret_access_key", "session_token"?, "role_arn",
                            "external_id"?, "session_name"?, "region"?} -> {"credentials": {...}}
  caller-identity ENDPOINT  stdin: credentials -> {"arn", "account"}
  call ENDPOINT             stdin: {"service", "method", "params"?, "creds", "region"?} -> the boto3 answer
                            (any API call signed with the given key, e.g. redshift create_cluster)
  apply-policies ENDPOINT   stdin: {"policies": [{"account", "attach_to", "kind": "identity"|"trust", "name",
                            "document": {...} | null}]}; puts each identity policy on its user or role (null:
                            deletes it) and replaces each trust policy, through the unauthenticated window
  rds-token                 stdin: credentials + {"host", "port", "user", "region", "at"?} -> {"token"}
                            (boto3's generate_db_auth_token; "at" = ISO time to sign at instead of now)
"""

import json
import sys
import urllib.request

import boto3
import botocore.exceptions
from botocore.config import Config

REGION = "us-east-1"
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})


def _post(endpoint, path, body):
    request = urllib.request.Request(
        endpoint + path, data=body.encode(), method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def _client(service, endpoint, account=None, creds=None, region=REGION):
    creds = creds or {"access_key_id": "AKIASETUPSETUPSETUP0", "secret_access_key": "setup"}
    client = boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=creds["access_key_id"],
        aws_secret_access_key=creds["secret_access_key"],
        aws_session_token=creds.get("session_token"),
        config=NO_RETRY,
    )
    if account:
        def add_account(request, **_):
            request.headers["x-moto-account-id"] = account

        client.meta.events.register("before-sign.*.*", add_account)
    return client


def setup(endpoint, spec):
    out = {"users": {}, "roles": {}}
    _post(endpoint, "/moto-api/reset-auth", "1000000")
    try:
        for user in spec.get("users", []):
            iam = _client("iam", endpoint, account=user["account"])
            arn = iam.create_user(UserName=user["name"])["User"]["Arn"]
            for i, policy in enumerate(user.get("policies", [])):
                iam.put_user_policy(UserName=user["name"], PolicyName=f"p{i}", PolicyDocument=json.dumps(policy))
            key = iam.create_access_key(UserName=user["name"])["AccessKey"]
            out["users"][user["name"]] = {
                "arn": arn,
                "account": user["account"],
                "access_key_id": key["AccessKeyId"],
                "secret_access_key": key["SecretAccessKey"],
            }
        for role in spec.get("roles", []):
            iam = _client("iam", endpoint, account=role["account"])
            created = iam.create_role(
                RoleName=role["name"],
                Path=role.get("path", "/"),
                AssumeRolePolicyDocument=json.dumps(role["trust"]),
                MaxSessionDuration=role.get("max_session_duration", 3600),
            )["Role"]
            for i, policy in enumerate(role.get("policies", [])):
                iam.put_role_policy(RoleName=role["name"], PolicyName=f"p{i}", PolicyDocument=json.dumps(policy))
            out["roles"][role["name"]] = {"arn": created["Arn"], "account": role["account"]}
    finally:
        # Close the window: from here on every request must be signed by a known key.
        _post(endpoint, "/moto-api/reset-auth", "0")
    return out


def apply_policies(endpoint, spec):
    applied = 0
    _post(endpoint, "/moto-api/reset-auth", "1000000")
    try:
        for policy in spec.get("policies", []):
            iam = _client("iam", endpoint, account=policy["account"])
            target = policy["attach_to"]
            name = target.rsplit("/", 1)[-1]
            document = policy.get("document")
            if policy["kind"] == "trust":
                iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(document))
            elif ":role/" in target:
                if document is None:
                    iam.delete_role_policy(RoleName=name, PolicyName=policy["name"])
                else:
                    iam.put_role_policy(RoleName=name, PolicyName=policy["name"], PolicyDocument=json.dumps(document))
            elif ":user/" in target:
                if document is None:
                    iam.delete_user_policy(UserName=name, PolicyName=policy["name"])
                else:
                    iam.put_user_policy(UserName=name, PolicyName=policy["name"], PolicyDocument=json.dumps(document))
            else:
                raise ValueError(f"cannot attach a policy to {target}")
            applied += 1
    finally:
        _post(endpoint, "/moto-api/reset-auth", "0")
    return {"applied": applied}


def _creds_out(c):
    return {
        "access_key_id": c["AccessKeyId"],
        "secret_access_key": c["SecretAccessKey"],
        "session_token": c.get("SessionToken"),
        "expiration": c["Expiration"].isoformat() if "Expiration" in c else None,
    }


def assume_role(endpoint, args):
    sts = _client("sts", endpoint, creds=args, region=args.get("region", REGION))
    params = {"RoleArn": args["role_arn"], "RoleSessionName": args.get("session_name", "iamwire-rig")}
    if args.get("external_id") is not None:
        params["ExternalId"] = args["external_id"]
    answer = sts.assume_role(**params)
    return {"credentials": _creds_out(answer["Credentials"]), "arn": answer["AssumedRoleUser"]["Arn"]}


def caller_identity(endpoint, args):
    answer = _client("sts", endpoint, creds=args).get_caller_identity()
    return {"arn": answer["Arn"], "account": answer["Account"]}


def call(endpoint, args):
    client = _client(args["service"], endpoint, creds=args["creds"], region=args.get("region", REGION))
    answer = getattr(client, args["method"])(**args.get("params", {}))
    answer.pop("ResponseMetadata", None)
    return json.loads(json.dumps(answer, default=str))


def rds_token(args):
    if args.get("at"):
        # Sign as of a given moment (e.g. long ago, for an expired token) by freezing botocore's clock.
        import datetime

        import botocore.auth

        moment = datetime.datetime.fromisoformat(args["at"])
        botocore.auth.get_current_datetime = lambda *_, **__: moment
    rds = boto3.client(
        "rds",
        region_name=args["region"],
        aws_access_key_id=args["access_key_id"],
        aws_secret_access_key=args["secret_access_key"],
        aws_session_token=args.get("session_token"),
    )
    return {"token": rds.generate_db_auth_token(args["host"], int(args["port"]), args["user"], args["region"])}


def main():
    command = sys.argv[1]
    args = json.load(sys.stdin)
    try:
        if command == "setup":
            result = setup(sys.argv[2], args)
        elif command == "apply-policies":
            result = apply_policies(sys.argv[2], args)
        elif command == "assume-role":
            result = assume_role(sys.argv[2], args)
        elif command == "caller-identity":
            result = caller_identity(sys.argv[2], args)
        elif command == "call":
            result = call(sys.argv[2], args)
        elif command == "rds-token":
            result = rds_token(args)
        else:
            raise SystemExit(f"unknown command {command}")
    except botocore.exceptions.ClientError as e:
        err = e.response.get("Error", {})
        result = {"error": {"code": err.get("Code", ""), "message": err.get("Message", "")}}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
