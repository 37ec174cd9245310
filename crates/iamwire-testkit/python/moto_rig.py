"""Start moto's server for iamwire's tests, with AssumeRole checked the way AWS checks it.

Stock moto evaluates a role's trust policy only when the role lives in the caller's own account, and lets a
request without an ExternalId through a trust policy that requires one. Cross-account access is exactly what
iamwire is for, so this launcher replaces those two checks: the target role is found in the account its ARN
names, every statement of its trust policy is evaluated (principal, sts:ExternalId conditions, explicit
Deny), and a condition on a key the request does not carry fails, as in AWS. Its authentication errors
(AccessDenied, SignatureDoesNotMatch, InvalidClientTokenId) are also reshaped from moto's EC2-style
<ErrorResponse><Errors><Error> into the <ErrorResponse><Error> that the query-protocol services (STS, IAM,
Redshift, ElastiCache) really send, so clients parse them as they would parse AWS's.

It also answers what stock moto does not: iam:SimulatePrincipalPolicy, evaluated by moto's own IAM policy
engine (access_control.IAMPolicy) over the principal's inline and attached policies; and, for the rig's
token verifiers only, GET /iamwire-rig/evaluate?access_key=..&action=..&resource=.. (the same evaluation for
the principal an access key belongs to: what RDS does when it checks rds-db:connect for a token's signer).
For tests of credential expiry, GET /iamwire-rig/sts-duration?seconds=N caps the lifetime of every session
AssumeRole issues from then on (AWS's own floor is 900 s, far too long for a test; 0 lifts the cap).

Stock moto also authorizes every DynamoDB call against the resource "*", so a role whose policy names tables
is refused everything; here DynamoDB and DynamoDB Streams calls are authorized against the table (or stream)
ARN they name, as AWS does.

moto's OpenSearch GET calls are signature-checked against a body made of the request's headers or query string
(a moto bug that refuses every correctly signed ListDomainNames or ListTags); here they are checked against the
empty body AWS hashes.

moto 5.2 has no RDS Proxy endpoints and no Aurora custom endpoints; this launcher adds Create/Describe/Delete
for both (DBProxyEndpoint, DBClusterEndpoint) on moto's own RDS backends, shaped as the RDS API reference says
(host names `<name>.endpoint.proxy-<hash>.<region>.rds.amazonaws.com` and
`<name>.cluster-custom-<hash>.<region>.rds.amazonaws.com`, the latter also listed in the cluster's
CustomEndpoints), so discovery and the endpoint check run against them with moto's signature and IAM checks.

With IAMWIRE_RIG_TLS_CERT and IAMWIRE_RIG_TLS_KEY (PEM files), the same emulator is also served over HTTPS
(DynamoDB etc. behind TLS, as AWS serves them), and an OpenSearch stand-in is served over HTTPS: moto has no
OpenSearch data plane, so the stand-in answers a few OpenSearch calls (info, bulk, and single documents
kept in memory) and, first, checks each request's SigV4
signature with botocore against the temporary credentials moto itself issued (AssumeRole), the body against
x-amz-content-sha256, and records who signed (IAMWIRE_RIG_OPENSEARCH_LOG, JSON lines).

Usage: python moto_rig.py  (prints "PORT <n>" once listening, then "TLS_PORT <n>" and "OPENSEARCH_PORT <n>"
when TLS is configured; exits when stdin closes)
Environment: INITIAL_NO_AUTH_ACTION_COUNT, MOTO_ENABLE_RECORDING, MOTO_RECORDER_FILEPATH as moto documents.
"""

import fnmatch
import json
import sys

from moto.core import exceptions as core_exceptions
from moto.core.exceptions import AccessDeniedError
from urllib.parse import parse_qs

from moto.core.mime_types import APP_XML
from moto.core.responses import ActionResult
from moto.iam import access_control
from moto.iam.models import iam_backends
from moto.iam.responses import IamResponse
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.sts.models import STSBackend, sts_backends
from werkzeug.serving import make_server


def _split_arn(arn):
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return parts


def _find_role(role_arn):
    parts = _split_arn(role_arn)
    if parts is None or parts[2] != "iam" or not parts[5].startswith("role/"):
        return None
    partition, account = parts[1], parts[4]
    if account not in iam_backends:
        return None
    try:
        return iam_backends[account][partition].get_role_by_arn(role_arn)
    except Exception:  # moto raises its own NotFound types
        return None


def _caller_principals(request):
    """Every principal string the caller matches in a trust policy."""
    key = request._access_key
    arn = key.arn
    parts = _split_arn(arn)
    names = {"*", arn}
    if parts is None:
        return names
    partition, account = parts[1], parts[4]
    names.add(account)
    names.add(f"arn:{partition}:iam::{account}:root")
    if parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        # A role session also matches the role's own ARN (with its path).
        for assumed in sts_backends[account][partition].assumed_roles:
            if assumed.access_key_id == key._access_key_id:
                names.add(assumed.role_arn)
    return names


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _principal_matches(statement, principals):
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return any(p in principals for p in _as_list(principal.get("AWS")))


def _conditions_match(statement, context):
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, expected in keys.items():
            actual = context.get(key.lower())
            if actual is None:
                return False
            expected = [str(e) for e in _as_list(expected)]
            if operator == "StringEquals":
                ok = actual in expected
            elif operator == "StringLike":
                ok = any(fnmatch.fnmatchcase(actual, e) for e in expected)
            elif operator == "StringNotEquals":
                ok = actual not in expected
            else:
                ok = False  # an operator we do not model never grants access
            if not ok:
                return False
    return True


def _action_matches(statement, action):
    return any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _as_list(statement.get("Action")))


def _trust_allows(request, role_arn):
    role = _find_role(role_arn)
    if role is None:
        return False
    document = role.assume_role_policy_document
    if isinstance(document, str):
        document = json.loads(document)
    principals = _caller_principals(request)
    context = {}
    external_id = request._data.get("ExternalId")
    if external_id:
        context["sts:externalid"] = external_id[0]
    allowed = False
    for statement in _as_list(document.get("Statement")):
        if not _action_matches(statement, request._action):
            continue
        if not _principal_matches(statement, principals):
            continue
        if not _conditions_match(statement, context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = True
    return allowed


def _is_assuming_role_operation(self, resource_arn):
    self._iamwire_resource = resource_arn
    return self._action == "sts:AssumeRole" and ":role/" in resource_arn


def _check_role_trust_relationship(self, role_arn):
    return _trust_allows(self, role_arn)


def _raise_access_denied(self):
    resource = getattr(self, "_iamwire_resource", None)
    action = self._action
    if resource and resource != "*":
        action = f"{action} on resource: {resource}"
    raise AccessDeniedError(user_arn=self._access_key.arn, action=action)


_original_rest_error_init = core_exceptions._RESTError.__init__


def _query_protocol_error_init(self, error_type, message, *args, **kwargs):
    _original_rest_error_init(self, error_type, message, *args, **kwargs)
    if self.content_type == APP_XML:
        from xmltodict import unparse

        error = {"Type": "Sender", "Code": error_type, "Message": message}
        self.description = unparse({"ErrorResponse": {"Error": error, "RequestId": "iamwire-rig"}}, full_document=True)


core_exceptions._RESTError.__init__ = _query_protocol_error_init


_original_create_aws_request = access_control.IAMRequestBase._create_aws_request


def _create_aws_request(self):
    # moto's REST handlers (OpenSearch) pass the request headers or the parsed query string where the
    # data belongs, so a GET without a body (ListDomainNames, ListTags, DescribeDomain) is checked
    # against a payload made of its headers or query, and every correctly signed GET is refused. AWS
    # hashes the body that was sent: for these methods, nothing.
    if not self._body and isinstance(self._data, dict) and self._method in ("GET", "HEAD", "DELETE"):
        self._data = b""
    return _original_create_aws_request(self)
access_control.IAMRequestBase._is_assuming_role_operation = _is_assuming_role_operation
access_control.IAMRequestBase._check_role_trust_relationship = _check_role_trust_relationship
access_control.IAMRequestBase._create_aws_request = _create_aws_request
access_control.IAMRequest._raise_access_denied = _raise_access_denied


def _principal(arn):
    """The IAM user or role an ARN names (an assumed-role session ARN names its role), or None."""
    parts = _split_arn(arn)
    if parts is None:
        return None
    partition, account, resource = parts[1], parts[4], parts[5]
    if account not in iam_backends:
        return None
    backend = iam_backends[account][partition]
    try:
        if parts[2] == "sts" and resource.startswith("assumed-role/"):
            return backend.get_role(resource.split("/")[1])
        if resource.startswith("role/"):
            return backend.get_role_by_arn(arn)
        if resource.startswith("user/"):
            return backend.get_user(resource.rsplit("/", 1)[-1])
    except Exception:  # moto's NotFound types
        return None
    return None


def evaluate(principal_arn, action, resource):
    """allowed / explicitDeny / implicitDeny for `action` on `resource` under the principal's policies."""
    principal = _principal(principal_arn)
    if principal is None:
        return "implicitDeny"
    policies = list(principal.policies.values()) + list(principal.managed_policies.values())
    decision = "implicitDeny"
    for policy in policies:
        result = access_control.IAMPolicy(policy).is_action_permitted(action, resource)
        if result == access_control.PermissionResult.DENIED:
            return "explicitDeny"
        if result == access_control.PermissionResult.PERMITTED:
            decision = "allowed"
    return decision


def _key_principal(access_key_id):
    for account, backends in list(iam_backends.items()):
        for partition in ("aws", "aws-cn", "aws-us-gov"):
            try:
                backend = backends[partition]
            except Exception:
                continue
            key = backend.access_keys.get(access_key_id)
            if key is None:
                continue
            if key.role_arn:
                return key.role_arn
            if key.user_name:
                return backend.get_user(key.user_name).arn
    return None


def _simulate_principal_policy(self):
    source = self._get_param("PolicySourceArn")
    actions = self._get_param("ActionNames") or []
    resources = self._get_param("ResourceArns") or ["*"]
    results = []
    for action in actions:
        for resource in resources:
            results.append(
                {
                    "EvalActionName": action,
                    "EvalResourceName": resource,
                    "EvalDecision": evaluate(source, action, resource),
                }
            )
    return ActionResult({"EvaluationResults": results, "IsTruncated": False})


_original_determine_resource = IamResponse._determine_resource


def _determine_resource(self):
    # What AWS authorizes SimulatePrincipalPolicy on: the principal whose policies are simulated (stock
    # moto authorizes it against `*`, so a statement scoped to that principal would never match).
    if self._get_action() == "SimulatePrincipalPolicy":
        return self._get_param("PolicySourceArn") or "*"
    return _original_determine_resource(self)


IamResponse.simulate_principal_policy = _simulate_principal_policy
IamResponse._determine_resource = _determine_resource


_STS_DURATION_CAP = {"seconds": 0}
_original_assume_role = STSBackend.assume_role


def _assume_role(self, *args, **kwargs):
    cap = _STS_DURATION_CAP["seconds"]
    if cap and kwargs.get("duration", cap) > cap:
        kwargs["duration"] = cap
    return _original_assume_role(self, *args, **kwargs)


STSBackend.assume_role = _assume_role


def _rig_routes(app):
    def wrapped(environ, start_response):
        path = environ.get("PATH_INFO")
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if path == "/iamwire-rig/sts-duration":
            _STS_DURATION_CAP["seconds"] = int(query.get("seconds", "0"))
            body = json.dumps(_STS_DURATION_CAP).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if path != "/iamwire-rig/evaluate":
            return app(environ, start_response)
        principal = _key_principal(query.get("access_key", ""))
        decision = "implicitDeny"
        if principal:
            decision = evaluate(principal, query.get("action", ""), query.get("resource", "*"))
        body = json.dumps({"principal": principal, "decision": decision}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return wrapped


class _RigServer(ThreadedMotoServer):
    def _server_entry(self):
        app = _rig_routes(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


def _dynamodb_resource(self):
    params = self.body if isinstance(self.body, dict) else None
    if params is None:
        try:
            params = json.loads(self.body or "{}")
        except ValueError:
            params = {}
    if params.get("StreamArn"):
        return params["StreamArn"]
    tables = set()
    if params.get("TableName"):
        tables.add(params["TableName"])
    tables.update((params.get("RequestItems") or {}).keys())
    if len(tables) == 1:
        return f"arn:aws:dynamodb:{self.region}:{self.current_account}:table/{tables.pop()}"
    return "*"


def _patch_dynamodb():
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    DynamoHandler._determine_resource = _dynamodb_resource
    DynamoDBStreamsHandler._determine_resource = _dynamodb_resource


def _assumed_role_key(access_key_id):
    """The secret, session token and principal of temporary credentials moto issued."""
    for account in list(sts_backends.keys()):
        for partition in list(sts_backends[account].keys()):
            for role in sts_backends[account][partition].assumed_roles:
                if role.access_key_id == access_key_id:
                    principal = f"arn:{partition}:sts::{account}:assumed-role/{role.role_arn.split('/')[-1]}/{role.session_name}"
                    return role.secret_access_key, role.session_token, principal
    return None


def _opensearch_verify(method, path, headers, body):
    """(ok, detail, principal): the request's SigV4, recomputed with botocore."""
    import hashlib
    import hmac

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    auth = headers.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return False, "not signed", None
    fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    akid, _date, region, service, _ = fields["Credential"].split("/")
    if service != "es":
        return False, f"signed for {service}, not es", None
    found = _assumed_role_key(akid)
    if found is None:
        return False, "unknown access key", None
    secret, token, principal = found
    if headers.get("X-Amz-Security-Token") != token:
        return False, "wrong security token", principal
    declared = headers.get("X-Amz-Content-SHA256")
    if declared is not None and declared != hashlib.sha256(body).hexdigest():
        return False, "body does not match x-amz-content-sha256", principal
    signed = fields["SignedHeaders"].split(";")
    for required in ("host", "x-amz-date"):
        if required not in signed:
            return False, f"{required} is not signed", principal
    request = AWSRequest(method=method, url=f"https://{headers['Host']}{path}", data=body)
    for name in signed:
        request.headers[name] = headers.get(name, "")
    request.context["timestamp"] = headers["X-Amz-Date"]
    signer = SigV4Auth(Credentials(akid, secret, token), "es", region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, fields["Signature"]):
        return False, "signature does not match", principal
    return True, "ok", principal


def _opensearch_handler(log_path):
    import hashlib
    import os
    from http.server import BaseHTTPRequestHandler

    lock = __import__("threading").Lock()
    # Documents written with PUT/POST /<index>/_doc/<id>, read back with GET: enough for a round trip.
    documents = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = bytearray()
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        return bytes(out)
                    out += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _handle(self):
            body = self._body()
            ok, detail, principal = _opensearch_verify(self.command, self.path, self.headers, body)
            parts = self.path.split("?")[0].strip("/").split("/")
            doc = (parts[0], parts[2]) if len(parts) == 3 and parts[1] == "_doc" else None
            if not ok:
                status, answer = 403, {"message": f"stand-in refused the signature: {detail}"}
            elif self.path.split("?")[0].endswith("/_bulk"):
                actions = [line for line in body.splitlines()[::2] if line.strip()]
                items = [{"index": {"status": 201, "result": "created"}} for _ in actions]
                status, answer = 200, {"took": 1, "errors": False, "items": items}
            elif doc is not None and self.command in ("PUT", "POST"):
                with lock:
                    documents[doc] = json.loads(body or b"{}")
                status, answer = 201, {"_index": doc[0], "_id": doc[1], "result": "created", "_version": 1}
            elif doc is not None and self.command == "GET":
                with lock:
                    source = documents.get(doc)
                answer = {"_index": doc[0], "_id": doc[1], "found": source is not None}
                if source is not None:
                    answer.update({"_version": 1, "_source": source})
                status = 200 if source is not None else 404
            elif self.path == "/":
                status, answer = 200, {"cluster_name": "iamwire-standin", "version": {"number": "2.11.0", "distribution": "opensearch"}}
            else:
                status, answer = 200, {"acknowledged": True}
            with lock, open(log_path, "a") as log:
                log.write(json.dumps({
                    "method": self.command, "path": self.path, "status": status, "detail": detail,
                    "principal": principal, "body_len": len(body),
                    "body_sha256": hashlib.sha256(body).hexdigest(),
                }) + "\n")
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def do_HEAD(self):
            self._body()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def _serve_tls():
    import os
    import ssl
    import threading
    from http.server import ThreadingHTTPServer

    from werkzeug.serving import make_server
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

    cert, key = os.environ.get("IAMWIRE_RIG_TLS_CERT"), os.environ.get("IAMWIRE_RIG_TLS_KEY")
    if not cert or not key:
        return
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    app = _rig_routes(DomainDispatcherApplication(create_backend_app))
    moto_tls = make_server("127.0.0.1", 0, app, True, request_handler=MotoRequestHandler, ssl_context=context)
    threading.Thread(target=moto_tls.serve_forever, daemon=True).start()
    print(f"TLS_PORT {moto_tls.server_address[1]}", flush=True)
    log = os.environ.get("IAMWIRE_RIG_OPENSEARCH_LOG", "opensearch.jsonl")
    search = ThreadingHTTPServer(("127.0.0.1", 0), _opensearch_handler(log))
    search.daemon_threads = True
    search.socket = context.wrap_socket(search.socket, server_side=True)
    threading.Thread(target=search.serve_forever, daemon=True).start()
    print(f"OPENSEARCH_PORT {search.server_address[1]}", flush=True)


def _patch_rds_endpoints():
    import hashlib

    from moto.rds.exceptions import RDSClientError
    from moto.rds.responses import RDSResponse

    proxy_endpoints = {}  # (account, region) -> {name: endpoint}
    cluster_endpoints = {}

    def _hash(*parts):
        return hashlib.sha256("/".join(parts).encode()).hexdigest()[:12]

    def create_db_proxy_endpoint(self):
        p = self.params
        proxy = self.backend.describe_db_proxies(p["DBProxyName"])[0]
        name = p["DBProxyEndpointName"]
        store = proxy_endpoints.setdefault((self.current_account, self.region), {})
        if name in store:
            raise RDSClientError("DBProxyEndpointAlreadyExistsFault", f"endpoint {name} already exists")
        ident = _hash(self.current_account, self.region, name)
        endpoint = {
            "DBProxyEndpointName": name,
            "DBProxyEndpointArn": f"arn:aws:rds:{self.region}:{self.current_account}:db-proxy-endpoint:prx-endpoint-{ident}",
            "DBProxyName": proxy.db_proxy_name,
            "Status": "available",
            "VpcId": proxy.vpc_id,
            "VpcSubnetIds": p.get("VpcSubnetIds") or proxy.vpc_subnet_ids,
            "VpcSecurityGroupIds": p.get("VpcSecurityGroupIds") or proxy.vpc_security_group_ids,
            "Endpoint": f"{name}.endpoint.proxy-{_hash(self.current_account, self.region)}.{self.region}.rds.amazonaws.com",
            "TargetRole": p.get("TargetRole") or "READ_WRITE",
            "IsDefault": False,
        }
        store[name] = endpoint
        return ActionResult({"DBProxyEndpoint": endpoint})

    def describe_db_proxy_endpoints(self):
        p = self.params
        found = list(proxy_endpoints.get((self.current_account, self.region), {}).values())
        if p.get("DBProxyName"):
            self.backend.describe_db_proxies(p["DBProxyName"])
            found = [e for e in found if e["DBProxyName"] == p["DBProxyName"]]
        if p.get("DBProxyEndpointName"):
            found = [e for e in found if e["DBProxyEndpointName"] == p["DBProxyEndpointName"]]
            if not found:
                raise RDSClientError("DBProxyEndpointNotFoundFault", f"endpoint {p['DBProxyEndpointName']} not found")
        return ActionResult({"DBProxyEndpoints": found})

    def delete_db_proxy_endpoint(self):
        store = proxy_endpoints.get((self.current_account, self.region), {})
        endpoint = store.pop(self.params["DBProxyEndpointName"], None)
        if endpoint is None:
            raise RDSClientError("DBProxyEndpointNotFoundFault", "endpoint not found")
        return ActionResult({"DBProxyEndpoint": endpoint})

    def create_db_cluster_endpoint(self):
        p = self.params
        cluster = self.backend.describe_db_clusters(p["DBClusterIdentifier"])[0]
        name = p["DBClusterEndpointIdentifier"]
        store = cluster_endpoints.setdefault((self.current_account, self.region), {})
        host = f"{name}.cluster-custom-{cluster.url_identifier}.{self.region}.rds.amazonaws.com"
        endpoint = {
            "DBClusterEndpointIdentifier": name,
            "DBClusterIdentifier": cluster.db_cluster_identifier,
            "DBClusterEndpointResourceIdentifier": f"cluster-endpoint-{_hash(self.current_account, name)}",
            "Endpoint": host,
            "Status": "available",
            "EndpointType": "CUSTOM",
            "CustomEndpointType": p.get("EndpointType") or "ANY",
            "StaticMembers": p.get("StaticMembers") or [],
            "ExcludedMembers": p.get("ExcludedMembers") or [],
            "DBClusterEndpointArn": f"arn:aws:rds:{self.region}:{self.current_account}:cluster-endpoint:{name}",
        }
        store[name] = endpoint
        cluster.custom_endpoints = list(getattr(cluster, "custom_endpoints", None) or []) + [host]
        return ActionResult(endpoint)

    def describe_db_cluster_endpoints(self):
        p = self.params
        found = list(cluster_endpoints.get((self.current_account, self.region), {}).values())
        if p.get("DBClusterIdentifier"):
            found = [e for e in found if e["DBClusterIdentifier"] == p["DBClusterIdentifier"]]
        if p.get("DBClusterEndpointIdentifier"):
            found = [e for e in found if e["DBClusterEndpointIdentifier"] == p["DBClusterEndpointIdentifier"]]
            if not found:
                raise RDSClientError("DBClusterEndpointNotFoundFault", "endpoint not found")
        return ActionResult({"DBClusterEndpoints": found})

    RDSResponse.create_db_proxy_endpoint = create_db_proxy_endpoint
    RDSResponse.describe_db_proxy_endpoints = describe_db_proxy_endpoints
    RDSResponse.delete_db_proxy_endpoint = delete_db_proxy_endpoint
    RDSResponse.create_db_cluster_endpoint = create_db_cluster_endpoint
    RDSResponse.describe_db_cluster_endpoints = describe_db_cluster_endpoints


def main():
    _patch_dynamodb()
    _patch_rds_endpoints()
    server = _RigServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    print(f"PORT {port}", flush=True)
    _serve_tls()
    # Live as long as the test that started us: it holds our stdin open.
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
