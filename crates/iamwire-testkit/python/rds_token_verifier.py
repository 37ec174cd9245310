"""Check an RDS IAM authentication token the way RDS does, for the rig's "RDS-like" database users.

Loaded by pam_python.so as a PAM module (Postgres `pam` in pg_hba, MariaDB `auth_pam` in cleartext mode), or run
as `python rds_token_verifier.py CONFIG USER < token` (exit 0 = accepted) for testing the verifier itself.

Independent of iamwire's Rust code: the signature is recomputed with botocore's SigV4 query signer from the
token's own parameters and the secret of its access key. The key must be one the AWS emulator issued (looked
up in moto's /moto-api/data.json, which lists the secrets and session tokens of IAM user keys and assumed-role
sessions) or one of the config's static keys. Checked like RDS: Action=connect, DBUser equals the login user,
the host:port the token was made for, service rds-db, the region, the 15-minute expiry, the session token.

With "connect_check" set, the token's signer must also be allowed rds-db:connect on
arn:aws:rds-db:<region>:<account>:dbuser:<resource_id>/<user>, as RDS requires: the emulator's own IAM policy
engine decides, over the signer's policies (GET <moto_url>/iamwire-rig/evaluate, see moto_rig.py).

CONFIG is a JSON file: {"hosts": ["127.0.0.1:5432", ...], "region": "us-west-2" | null, "moto_url": "http://..."
| null, "static_keys": {"AKID": {"secret": "...", "token": null}}, "connect_check": {"account": "...",
"resource_id": "db-..."} | null, "log": "/path/to/log" | null, "venv": "/opt/iamwire/venv"}.
"""

import datetime
import hmac
import json
import os
import sys
import urllib.parse
import urllib.request
from urllib.parse import parse_qsl, urlsplit

MAX_TOKEN_LEN = 4096
MAX_EXPIRES = 900
MAX_SKEW = datetime.timedelta(minutes=5)
REQUIRED = (
    "Action",
    "DBUser",
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)


def _venv_path(venv):
    """Let the system Python that runs PAM modules import botocore from the rig's venv."""
    for root in (venv or "/opt/iamwire/venv",):
        lib = os.path.join(root, "lib")
        if os.path.isdir(lib):
            for entry in sorted(os.listdir(lib)):
                site = os.path.join(lib, entry, "site-packages")
                if os.path.isdir(site) and site not in sys.path:
                    sys.path.insert(0, site)


class Rejected(Exception):
    pass


def _lookup_secret(config, access_key_id):
    static = (config.get("static_keys") or {}).get(access_key_id)
    if static:
        return static["secret"], static.get("token")
    moto_url = config.get("moto_url")
    if not moto_url:
        raise Rejected("unknown access key")
    with urllib.request.urlopen(moto_url + "/moto-api/data.json", timeout=10) as response:
        data = json.load(response)
    for role in data.get("sts", {}).get("AssumedRole", []):
        if role.get("access_key_id") == access_key_id:
            return role["secret_access_key"], role.get("session_token")
    for key in data.get("iam", {}).get("AccessKey", []):
        if key.get("access_key_id") == access_key_id and key.get("status") == "Active":
            return key["secret_access_key"], None
    raise Rejected("unknown access key")


def _parse(token):
    """The token's parts, its query pairs and its parameters, or Rejected."""
    if not token or len(token) > MAX_TOKEN_LEN or "://" in token:
        raise Rejected("not a token")
    parts = urlsplit("https://" + token)
    if parts.path != "/" or parts.fragment:
        raise Rejected("bad path")
    pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    params = dict(pairs)
    if len(params) != len(pairs):
        raise Rejected("repeated parameter")
    return parts, pairs, params


def _check_signed(config, parts, pairs, params, service, now):
    """Check the SigV4 query signature of a parsed token for `service`, its scope, date and expiry; return
    the signing access key id and region."""
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    if params["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256" or params["X-Amz-SignedHeaders"] != "host":
        raise Rejected("unsupported signing")
    scope = params["X-Amz-Credential"].split("/")
    if len(scope) != 5 or scope[3] != service or scope[4] != "aws4_request":
        raise Rejected("bad credential scope")
    access_key_id, day, region = scope[0], scope[1], scope[2]
    if config.get("region") and region != config["region"]:
        raise Rejected("wrong region")
    amz_date = params["X-Amz-Date"]
    try:
        signed_at = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        expires = int(params["X-Amz-Expires"])
    except ValueError:
        raise Rejected("bad date or expiry") from None
    if day != amz_date[:8]:
        raise Rejected("scope date differs from X-Amz-Date")
    if not 0 < expires <= MAX_EXPIRES:
        raise Rejected("bad expiry")
    if signed_at - MAX_SKEW > now:
        raise Rejected("token from the future")
    if signed_at + datetime.timedelta(seconds=expires) < now:
        raise Rejected("token expired")

    secret, session_token = _lookup_secret(config, access_key_id)
    if (params.get("X-Amz-Security-Token") or None) != (session_token or None):
        raise Rejected("session token does not match the access key")
    unsigned = [(k, v) for k, v in pairs if k != "X-Amz-Signature"]
    request = AWSRequest(method="GET", url=f"https://{parts.netloc.lower()}/", params=unsigned)
    request.context["timestamp"] = amz_date
    auth = SigV4QueryAuth(Credentials(access_key_id, secret, session_token), service, region, expires=expires)
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, params["X-Amz-Signature"]):
        raise Rejected("signature does not match")
    return access_key_id, region


def verify(config, login_user, token, now=None):
    """Return None if `token` lets `login_user` in, else raise Rejected with the reason."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    parts, pairs, params = _parse(token)
    missing = [name for name in REQUIRED if name not in params]
    if missing:
        raise Rejected(f"missing {missing}")
    if params["Action"] != "connect":
        raise Rejected("Action is not connect")
    if params["DBUser"] != login_user:
        raise Rejected("DBUser does not match the login user")
    if parts.netloc not in config["hosts"]:
        raise Rejected(f"token is for {parts.netloc}, not this database")
    access_key_id, region = _check_signed(config, parts, pairs, params, "rds-db", now)
    check = config.get("connect_check")
    if check:
        resource = f"arn:aws:rds-db:{region}:{check['account']}:dbuser:{check['resource_id']}/{login_user}"
        query = urllib.parse.urlencode({"access_key": access_key_id, "action": "rds-db:connect", "resource": resource})
        with urllib.request.urlopen(config["moto_url"] + "/iamwire-rig/evaluate?" + query, timeout=10) as response:
            decision = json.load(response)
        if decision.get("decision") != "allowed":
            raise Rejected(f"{decision.get('principal')} is not authorized to perform rds-db:connect on {resource}")


def verify_cache(config, login_user, token, now=None):
    """The ElastiCache / MemoryDB check: like `verify`, for `User` on a cache name (no port), signed for the
    config's "service" ("elasticache" or "memorydb"); serverless ElastiCache caches ("serverless": true)
    carry ResourceType=ServerlessCache, node-based ones must not."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    parts, pairs, params = _parse(token)
    required = ["User"] + [name for name in REQUIRED if name != "DBUser"]
    missing = [name for name in required if name not in params]
    if missing:
        raise Rejected(f"missing {missing}")
    if params["Action"] != "connect":
        raise Rejected("Action is not connect")
    if params["User"] != login_user:
        raise Rejected("User does not match the login user")
    if parts.netloc not in config["cache_names"]:
        raise Rejected(f"token is for {parts.netloc}, not this cache")
    serverless = bool(config.get("serverless"))
    if (params.get("ResourceType") == "ServerlessCache") != serverless or (
        "ResourceType" in params and params["ResourceType"] != "ServerlessCache"
    ):
        raise Rejected("ResourceType does not match the kind of cache")
    _check_signed(config, parts, pairs, params, config["service"], now)


def _log(config, line):
    path = config.get("log")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


def check(config_path, login_user, token):
    with open(config_path) as f:
        config = json.load(f)
    _venv_path(config.get("venv"))
    try:
        verify(config, login_user, token)
    except Rejected as e:
        _log(config, f"reject user={login_user!r} reason={e}")
        return False, str(e)
    except Exception as e:  # a verifier bug must never let anyone in
        _log(config, f"reject user={login_user!r} error={type(e).__name__}: {e}")
        return False, f"{type(e).__name__}: {e}"
    _log(config, f"accept user={login_user!r}")
    return True, "ok"


# --- PAM entry points (pam_python) ---

def pam_sm_authenticate(pamh, flags, argv):
    try:
        user = pamh.get_user(None)
        token = pamh.authtok
        if not token:
            reply = pamh.conversation(pamh.Message(pamh.PAM_PROMPT_ECHO_OFF, "Password: "))
            token = reply.resp
        ok, _ = check(argv[1], user, token or "")
    except Exception as e:  # never let anyone in on a verifier error; leave a trace beside the config
        try:
            with open(os.path.join(os.path.dirname(argv[1]), "verifier.log"), "a") as f:
                f.write(f"reject error={type(e).__name__}: {e}\n")
        except OSError:
            pass
        return pamh.PAM_AUTH_ERR
    return pamh.PAM_SUCCESS if ok else pamh.PAM_AUTH_ERR


def pam_sm_setcred(pamh, flags, argv):
    return pamh.PAM_SUCCESS


def pam_sm_acct_mgmt(pamh, flags, argv):
    return pamh.PAM_SUCCESS


if __name__ == "__main__":
    accepted, reason = check(sys.argv[1], sys.argv[2], sys.stdin.read().strip())
    print(reason)
    sys.exit(0 if accepted else 1)
