//! The MongoDB proxy embedded in-process, in front of the stand-in DocumentDB (which checks MONGODB-AWS
//! through the AWS emulator's STS, as DocumentDB does): pymongo with proxy passwords (no client certificate)
//! logs in as the role it names; a wrong password and an unknown user are AuthenticationFailed and never
//! reach AWS or the database; a signer holding the wrong secret key is refused by STS, so the database says
//! AuthenticationFailed; and the stand-in refuses a signature made for another conversation's nonce (a
//! stale nonce), which is what makes the first check worth anything.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod aws_roles;

use std::process::Command;
use std::sync::Arc;

use aws_credential_types::Credentials;
use bytes::BytesMut;
use iamwire_aws::inject::DocumentDbInjector;
use iamwire_aws::role::{CredentialsFuture, RoleChain, RoleProvider};
use iamwire_aws::sigv4::mongodb::MongoDbAwsSigner;
use iamwire_core::tls::{ClientAuth, server_config};
use iamwire_core::{
    AllowList, Answer, Challenge, ChallengeSigner, Database, ExternalId, Glob, IdentityRules,
    Protocol, SystemClock,
};
use iamwire_mongodb::bson::{DocBuf, Document};
use iamwire_mongodb::codec::{BackendMessage, Limits, MessageDecoder, OpMsg};
use iamwire_mongodb::{Mongo, MongoProxy};
use iamwire_proxy::ProxyPasswordAuthenticator;
use iamwire_proxy::scram::{DEFAULT_ITERATIONS, MockKey, ScramSecret};
use iamwire_testkit::documentdb::DocumentDbStandIn;
use iamwire_testkit::moto::{
    AwsSetup, CrossAccount, DATABASE_ACCOUNT, Moto, RoleSpec, allow, trust_policy,
};
use iamwire_testkit::{LOCAL_NAMES, TestCa};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const REGION: &str = "us-east-1";
const EXTERNAL_ID: &str = "ext-embedded";

const PYMONGO: &str = r#"
import sys
from urllib.parse import quote_plus
from pymongo import MongoClient
from pymongo.errors import OperationFailure
port, ca, user, password = sys.argv[1:5]
uri = ("mongodb://{}:{}@localhost:{}/?tls=true&authMechanism=PLAIN&authSource=%24external"
       "&directConnection=true&serverSelectionTimeoutMS=30000").format(quote_plus(user), quote_plus(password), port)
client = MongoClient(uri, tlsCAFile=ca)
try:
    client.app.t.insert_one({"a": "b"})
    print("ok", [d["a"] for d in client.app.t.find({}, {"_id": 0})])
except OperationFailure as e:
    print("error", e.code, e.details.get("errmsg", ""))
"#;

/// Hands out the inner provider's credentials with the secret key replaced: a signature STS refuses.
#[derive(Debug)]
struct WrongSecret(Arc<dyn RoleProvider>);

impl RoleProvider for WrongSecret {
    fn credentials<'a>(&'a self, chain: &'a RoleChain) -> CredentialsFuture<'a> {
        Box::pin(async move {
            let real = self.0.credentials(chain).await?;
            Ok(Credentials::new(
                real.access_key_id(),
                "not-the-secret-key",
                real.session_token().map(str::to_owned),
                real.expiry(),
                "wrong",
            ))
        })
    }
}

struct Harness {
    port: u16,
    ca_file: String,
    standin: DocumentDbStandIn,
    moto: Moto,
    cross: CrossAccount,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn harness(wrong_secret: bool) -> Harness {
    let ca = TestCa::new().unwrap();
    let moto = Moto::start().unwrap();
    let cross = moto.cross_account("docdb-pw", EXTERNAL_ID).unwrap();
    let created = moto
        .setup(&AwsSetup {
            users: vec![],
            roles: vec![RoleSpec {
                account: DATABASE_ACCOUNT.into(),
                name: "writer".into(),
                trust: trust_policy(&cross.role_arn, None),
                policies: vec![allow(&["sts:GetCallerIdentity"], "*")],
            }],
        })
        .unwrap();
    let standin = DocumentDbStandIn::start(&ca, &moto, &[&created.roles["writer"].arn]).unwrap();

    let mut db = Database::new(
        "documentdb",
        Protocol::MongoDb,
        format!("localhost:{}", standin.port()),
    );
    db.aws.region = Some(REGION.into());
    db.aws.assume_role_arn = Some(cross.role_arn.clone());
    db.aws.external_id = Some(ExternalId::new(EXTERNAL_ID));
    let dir = tempfile::tempdir().unwrap();
    let server = ca
        .write(dir.path(), "proxy", &ca.server(LOCAL_NAMES).unwrap())
        .unwrap();
    let tls = server_config(
        &std::fs::read(&server.cert).unwrap(),
        &std::fs::read(&server.key).unwrap(),
        Some(ca.cert_pem().as_bytes()),
        ClientAuth::Optional,
    )
    .unwrap();
    let secret = ScramSecret::from_password(b"proxy-pw", b"0123456789abcdef", DEFAULT_ITERATIONS);
    let passwords =
        ProxyPasswordAuthenticator::new(MockKey::from_random_bytes([7; 32])).user("writer", secret);
    let allow = AllowList::new(vec![IdentityRules {
        name: "writer".into(),
        db_labels: [("*".to_owned(), Glob::new("*"))].into(),
        db_users: vec![Glob::new("writer")],
        db_names: vec![Glob::new("*")],
    }]);
    let mut roles = aws_roles::roles(&moto, &cross, REGION).await;
    if wrong_secret {
        roles = Arc::new(WrongSecret(roles));
    }
    let proxy = MongoProxy::builder(
        Mongo::new(),
        db,
        tls,
        Arc::new(allow),
        Arc::new(DocumentDbInjector::new(roles)),
    )
    .client_authenticator(Arc::new(passwords))
    .upstream_tls(std::fs::read(&standin.tls().ca).unwrap())
    .build()
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        proxy
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await;
    });
    Harness {
        port,
        ca_file: dir.path().join("ca.crt").display().to_string(),
        standin,
        moto,
        cross,
        _dir: dir,
        _stop: stop,
    }
}

impl Harness {
    async fn pymongo(&self, user: &str, password: &str) -> String {
        let args = [
            self.port.to_string(),
            self.ca_file.clone(),
            user.to_owned(),
            password.to_owned(),
        ];
        tokio::task::spawn_blocking(move || {
            let out = Command::new(iamwire_testkit::python())
                .args(["-c", PYMONGO])
                .args(&args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        })
        .await
        .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_passwords_log_in_as_the_named_role() {
    let h = harness(false).await;
    let ok = h.pymongo("writer", "proxy-pw").await;
    assert_eq!(ok, "ok ['b']", "{}", h.standin.log());
    let auths = h.standin.auths().unwrap();
    assert!(
        auths.iter().all(|a| a.ok
            && a.arn
                .as_deref()
                .is_some_and(|r| r.ends_with(":role/writer"))),
        "{auths:?}"
    );
    let seen = auths.len();
    for (user, password) in [("writer", "wrong"), ("nobody", "proxy-pw")] {
        let refused = h.pymongo(user, password).await;
        assert!(refused.starts_with("error 18 "), "{user}: {refused}");
        assert!(
            !refused.contains("proxy-pw") && !refused.contains("wrong"),
            "{refused}"
        );
    }
    assert_eq!(
        h.standin.auths().unwrap().len(),
        seen,
        "refusals reached the database"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_by_the_wrong_key_is_authentication_failed() {
    let h = harness(true).await;
    let refused = h.pymongo("writer", "proxy-pw").await;
    assert!(refused.starts_with("error 18 "), "{refused}");
    // The database's refusal, with what to check.
    assert!(refused.contains("MONGODB-AWS login of role"), "{refused}");
    let auths = h.standin.auths().unwrap();
    assert!(
        auths.iter().all(|a| !a.ok
            && a.reason.as_deref() == Some("STS refused the request: SignatureDoesNotMatch")),
        "{auths:?}"
    );
    assert!(!auths.is_empty());
}

/// A MONGODB-AWS client straight to the stand-in, with the codec and the signer: a signature for
/// another conversation's nonce is refused, the one for its own accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stand_in_refuses_a_stale_nonce() {
    let h = harness(false).await;
    let roles = aws_roles::roles(&h.moto, &h.cross, REGION).await;
    let mut db = Database::new("d", Protocol::MongoDb, "localhost:1");
    db.aws.assume_role_arn = Some(h.cross.role_arn.clone());
    db.aws.external_id = Some(ExternalId::new(EXTERNAL_ID));
    let chain = RoleChain::for_database(&db.aws, Some("writer"), "iamwire-test").unwrap();
    let signer = MongoDbAwsSigner::new(
        roles.credentials(&chain).await.unwrap(),
        Arc::new(SystemClock),
    );
    let mut first = Client::connect(&h).await;
    let (stale, host) = first.sasl_start().await;
    let mut second = Client::connect(&h).await;
    let (fresh, _) = second.sasl_start().await;
    assert_ne!(stale, fresh);
    let reply = second.sasl_continue(&signer, &stale, &host).await;
    assert_eq!(reply.0, Some(18.0), "{}", h.standin.log());
    let last = h.standin.auths().unwrap().pop().unwrap();
    assert_eq!(
        last.reason.as_deref(),
        Some("STS refused the request: SignatureDoesNotMatch")
    );
    // The signature over the conversation's own nonce is accepted.
    let reply = first.sasl_continue(&signer, &stale, &host).await;
    assert_eq!(reply, (None, true), "{}", h.standin.log());
}

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

struct Client {
    tls: Tls,
    buf: BytesMut,
}

impl Client {
    async fn connect(h: &Harness) -> Self {
        let ca = std::fs::read(&h.standin.tls().ca).unwrap();
        let config =
            iamwire_core::tls::upstream_config(iamwire_core::TlsMode::VerifyFull, Some(&ca), None)
                .unwrap();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", h.standin.port()))
            .await
            .unwrap();
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect("localhost".try_into().unwrap(), tcp)
            .await
            .unwrap();
        Self {
            tls,
            buf: BytesMut::new(),
        }
    }

    async fn command(&mut self, body: Vec<u8>) -> Vec<u8> {
        let mut out = BytesMut::new();
        OpMsg::new(body.into()).encode(1, 0, &mut out);
        self.tls.write_all(&out).await.unwrap();
        let decoder = MessageDecoder::new(Limits::default().max_message_len);
        loop {
            if let Some(raw) = decoder.decode(&mut self.buf).unwrap() {
                let message = BackendMessage::decode(&raw, &Limits::default()).unwrap();
                return message.reply().unwrap().as_bytes().to_vec();
            }
            let n = self.tls.read_buf(&mut self.buf).await.unwrap();
            assert!(n > 0, "the stand-in closed the connection");
        }
    }

    /// saslStart with a fresh client nonce: the server nonce and STS host.
    async fn sasl_start(&mut self) -> (Vec<u8>, String) {
        let mut payload = DocBuf::new();
        payload
            .binary("r", 0, &rand_nonce())
            .i32("p", i32::from(b'n'));
        let mut start = DocBuf::new();
        start
            .i32("saslStart", 1)
            .str("mechanism", "MONGODB-AWS")
            .binary("payload", 0, &payload.finish())
            .str("$db", "$external");
        let reply = self.command(start.finish()).await;
        let reply = Document::parse(&reply, 100).unwrap();
        let payload = Document::parse(reply.get_binary("payload").unwrap(), 100).unwrap();
        (
            payload.get_binary("s").unwrap().to_vec(),
            payload.get_str("h").unwrap().to_owned(),
        )
    }

    /// saslContinue signed for `nonce`: the error code if refused, and `done`.
    async fn sasl_continue(
        &mut self,
        signer: &dyn ChallengeSigner,
        nonce: &[u8],
        host: &str,
    ) -> (Option<f64>, bool) {
        let Answer::Headers(headers) = signer
            .answer(Challenge::StsGetCallerIdentity {
                server_nonce: nonce,
                host,
                gs2_cb_flag: b'n',
            })
            .unwrap()
        else {
            panic!("headers")
        };
        let mut proof = DocBuf::new();
        for (name, value) in &headers {
            let key = match name.as_str() {
                "authorization" => "a",
                "x-amz-date" => "d",
                _ => "t",
            };
            proof.str(key, std::str::from_utf8(value.expose()).unwrap());
        }
        let mut next = DocBuf::new();
        next.i32("saslContinue", 1)
            .i32("conversationId", 1)
            .binary("payload", 0, &proof.finish())
            .str("$db", "$external");
        let reply = self.command(next.finish()).await;
        let reply = Document::parse(&reply, 100).unwrap();
        (
            reply.get_f64("code"),
            reply.get("done").is_some_and(|v| v.is_truthy()),
        )
    }
}

fn rand_nonce() -> [u8; 32] {
    let mut nonce = [0u8; 32];
    iamwire_core::Randomness::fill(&iamwire_core::SystemRandom, &mut nonce).unwrap();
    nonce
}
