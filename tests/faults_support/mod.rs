//! The fault suite's shared part for the protocols whose clients are Python's (CQL, MongoDB, HTTP): a
//! deployment of a stand-in database behind `iamwire run` with fault relays between the proxy and the
//! AWS endpoint (moto, checking signatures) and between the proxy and the database, and the two
//! scenarios every protocol goes through — STS refusing, erring or silent; the database killed, down,
//! silent, slow and back — with each protocol's clients and checks passed in.

#![allow(dead_code)] // each test binary uses its own part

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use iamwire_testkit::documentdb::DocumentDbStandIn;
use iamwire_testkit::keyspaces::KeyspacesStandIn;
use iamwire_testkit::moto::{CrossAccount, Moto};
use iamwire_testkit::{Fault, FaultRelay, TestCa};

use crate::e2e_run_support::{
    EXTERNAL_ID, Proxy, REGION, Served, non_rds_operator_dir, sts_secrets, user_role,
};
use crate::py_session::{Failure, PySession};

/// A refusal must come back well within this, even on a loaded 2-core machine.
pub(crate) const PROMPT: Duration = Duration::from_secs(30);
/// The lifetime of the role sessions the emulator issues in the STS scenario. The proxy never hands
/// out credentials with less than 60 s left, so they serve new sessions for about 60 s.
pub(crate) const STS_LIFETIME: u64 = 120;
/// The proxy's timeouts towards the database and STS in these deployments: short, so a silent peer is
/// found out quickly.
pub(crate) const TIMEOUTS: &str =
    "  connect_timeout: 3s\n  login_timeout: 5s\n  credential_timeout: 3s";

/// Which stand-in the deployment serves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// Amazon Keyspaces (CQL): the stand-in checks each SigV4 answer with AWS's `cassandra-sigv4`.
    Keyspaces,
    /// Amazon DocumentDB (MongoDB): the stand-in has STS check the signed `GetCallerIdentity`.
    DocumentDb,
}

enum Server {
    Keyspaces(KeyspacesStandIn),
    DocumentDb(DocumentDbStandIn),
}

/// A stand-in database behind `iamwire run`, both paths through fault relays (forwarding at first);
/// dropped in field order, so the proxy stops first.
pub(crate) struct StandInStack {
    pub(crate) proxy: Proxy,
    /// Between the proxy and the AWS endpoint; it records what STS answered.
    pub(crate) sts: FaultRelay,
    /// Between the proxy and the database.
    pub(crate) db: FaultRelay,
    /// The database's role (assumed with the external ID) and the proxy's own identity.
    pub(crate) cross: CrossAccount,
    /// The database-user role sessions become.
    pub(crate) user_role_arn: String,
    server: Server,
    pub(crate) moto: Moto,
    dir: tempfile::TempDir,
}

/// The database-user role alice may be.
pub(crate) fn user_role_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Keyspaces => "keyspaces-app",
        Kind::DocumentDb => "docs-app",
    }
}

impl StandInStack {
    /// Start the emulator (capping role sessions at `sts_lifetime` seconds, if given), the stand-in,
    /// the relays and `iamwire run` with [`TIMEOUTS`] and `env`.
    pub(crate) fn start(kind: Kind, sts_lifetime: Option<u64>, env: &[(String, String)]) -> Self {
        let ca = TestCa::new().expect("rig CA");
        let moto = Moto::start().expect("moto");
        let cross = moto
            .cross_account(&format!("faults-{kind:?}").to_lowercase(), EXTERNAL_ID)
            .expect("cross-account role");
        let role = user_role_name(kind);
        let (protocol, server, user_role_arn) = match kind {
            Kind::Keyspaces => {
                let arn = user_role(&moto, &cross, role, &["cassandra:*"]);
                let standin = KeyspacesStandIn::start(&ca, &moto, REGION).expect("Keyspaces");
                ("cassandra", Server::Keyspaces(standin), arn)
            }
            Kind::DocumentDb => {
                let arn = user_role(&moto, &cross, role, &["sts:GetCallerIdentity"]);
                let standin = DocumentDbStandIn::start(&ca, &moto, &[&arn]).expect("DocumentDB");
                ("mongodb", Server::DocumentDb(standin), arn)
            }
        };
        let (port, db_ca) = match &server {
            Server::Keyspaces(s) => (s.port(), s.tls().ca.clone()),
            Server::DocumentDb(s) => (s.port(), s.tls().ca.clone()),
        };
        let db = FaultRelay::start(SocketAddr::from(([127, 0, 0, 1], port)), Fault::Forward)
            .expect("database relay");
        let moto_addr = moto
            .endpoint()
            .trim_start_matches("http://")
            .parse()
            .expect("the emulator's address");
        let sts = FaultRelay::recording(moto_addr, Fault::Forward).expect("STS relay");
        if let Some(seconds) = sts_lifetime {
            moto.cap_sts_duration(seconds).expect("cap STS lifetimes");
        }
        let served = Served {
            protocol,
            port: db.port(),
            ca: &db_ca,
            user: role,
            db_names: "\"*\"",
        };
        let uri = format!("localhost:{}", db.port());
        let (dir, config) =
            non_rds_operator_dir(&served, &cross, &sts.http_url(), &uri, "", TIMEOUTS);
        // pymongo takes the certificate and key in one file.
        let pem = ["alice.crt", "alice.key"]
            .map(|f| std::fs::read_to_string(dir.path().join(f)).expect("pem"));
        std::fs::write(dir.path().join("alice.pem"), pem.concat()).expect("write alice.pem");
        let proxy = Proxy::run(&dir, &config, &[], env);
        Self {
            proxy,
            sts,
            db,
            cross,
            user_role_arn,
            server,
            moto,
            dir,
        }
    }

    /// A file in the operator's directory (`ca.crt`, `alice.crt`, `alice.key`, `alice.pem`).
    pub(crate) fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// One protocol's clients and checks, for the scenarios.
pub(crate) struct Client<'a> {
    /// A client script for [`PySession`] and its arguments, reaching the proxy on `port`.
    pub(crate) session: &'a dyn Fn(u16) -> (&'static str, Vec<String>),
    /// The refusal a new session gets when the proxy has no credentials and STS fails as one of
    /// `faults` says: asserts its code (and that it names a role).
    pub(crate) no_credentials: &'a dyn Fn(&Failure, &[Fault]),
    /// The refusal a new session gets when the database is down as `fault` says: asserts its code.
    pub(crate) no_database: &'a dyn Fn(&Failure, Fault),
    /// What an open session's query gets right after its database was cut: asserts its code if the
    /// protocol has one to assert.
    pub(crate) cut: &'a dyn Fn(&Failure),
}

impl Client<'_> {
    /// A new session through `port` that answered one query.
    pub(crate) fn open(&self, port: u16) -> PySession {
        let (script, args) = (self.session)(port);
        PySession::open(script, &args)
    }

    /// A new session through `port` and its first query (the login), which must be prompt.
    pub(crate) fn login(&self, port: u16) -> Result<(), Failure> {
        let (script, args) = (self.session)(port);
        let mut session = PySession::start(script, &args);
        let started = Instant::now();
        let result = session.query();
        let took = started.elapsed();
        assert!(took < PROMPT, "a login took {took:?}: {result:?}");
        result
    }

    /// [`login`](Self::login) every half second until it succeeds, for up to `limit`.
    pub(crate) fn login_until_it_succeeds(&self, port: u16, limit: Duration) {
        let deadline = Instant::now() + limit;
        while let Err(failure) = self.login(port) {
            assert!(
                Instant::now() < deadline,
                "still refused after {limit:?}: {failure:?}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// STS refusing (403 AccessDenied), erring (500) and silent, while the proxy on `port` holds
/// credentials issued (at the latest) at `issued_by` for [`STS_LIFETIME`] seconds: new sessions are
/// served from the cache without a call to STS; once the cache runs out, every new session is refused
/// promptly as `client.no_credentials` checks, whichever way STS fails; when STS is back, new sessions
/// get in again, same process. `steady` (a session opened before) is queried at every step: it must
/// never fail if `open_survives_expiry` (a login-once protocol), and must fail and come back like the
/// new sessions if not (HTTP: every request is signed afresh). Returns every refusal the clients got.
pub(crate) fn sts_scenario(
    sts: &FaultRelay,
    moto: &Moto,
    port: u16,
    issued_by: Instant,
    steady: &mut PySession,
    open_survives_expiry: bool,
    client: &Client<'_>,
) -> Vec<Failure> {
    let mut seen = Vec::new();
    // The open session's query: `Ok`, or (if it signs afresh and `may_fail`) refused as a new session
    // is when STS fails as one of `faults`.
    let mut step = |faults: &[Fault], may_fail: bool, seen: &mut Vec<Failure>| -> bool {
        match steady.query() {
            Ok(()) => true,
            Err(failure) => {
                assert!(
                    may_fail && !open_survives_expiry,
                    "the open session failed: {failure:?}"
                );
                (client.no_credentials)(&failure, faults);
                seen.push(failure);
                false
            }
        }
    };
    let calls = sts.accepted();
    for fault in [
        Fault::HttpError(403),
        Fault::HttpError(500),
        Fault::Blackhole,
    ] {
        sts.set(fault);
        if let Err(failure) = client.login(port) {
            panic!("STS {fault:?}, credentials cached: {failure:?}");
        }
        step(&[], false, &mut seen);
    }
    assert!(
        issued_by.elapsed() < Duration::from_secs(50),
        "the machine is too slow for this test's credential lifetime ({:?})",
        issued_by.elapsed()
    );
    assert_eq!(sts.accepted(), calls, "a cached login called STS");

    // The cache runs out: a prompt refusal, whichever way STS fails.
    let erring = Fault::HttpError(500);
    sts.set(erring);
    let deadline = issued_by + Duration::from_secs(STS_LIFETIME + 60);
    let first = loop {
        match client.login(port) {
            Ok(()) => assert!(
                Instant::now() < deadline,
                "credentials issued for {STS_LIFETIME} s still served after {:?}",
                issued_by.elapsed()
            ),
            Err(failure) => break failure,
        }
        // Busy, so an HTTP keep-alive connection is never idle long enough to be closed.
        step(&[erring], true, &mut seen);
        std::thread::sleep(Duration::from_secs(1));
    };
    assert!(
        issued_by.elapsed() > Duration::from_secs(STS_LIFETIME - 70),
        "cached credentials were given up after only {:?}: {first:?}",
        issued_by.elapsed()
    );
    (client.no_credentials)(&first, &[erring]);
    seen.push(first.clone());
    assert!(
        !step(&[erring], true, &mut seen) || open_survives_expiry,
        "a request signed with expired credentials"
    );
    // The cache answers with the last error until its next attempt is due (backoff): wait for an
    // attempt made under each fault.
    let (mut last, mut previous) = (first.text, erring);
    for fault in [Fault::HttpError(403), Fault::Blackhole] {
        sts.set(fault);
        let calls = sts.accepted();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let failure = client.login(port).expect_err("no STS, no login");
            seen.push(failure.clone());
            if sts.accepted() > calls && failure.text != last {
                eprintln!("STS {fault:?} after expiry: {failure:?}");
                (client.no_credentials)(&failure, &[fault]);
                last = failure.text;
                break;
            }
            // Still the last attempt's answer.
            (client.no_credentials)(&failure, &[previous]);
            assert!(
                !step(&[previous, fault], true, &mut seen) || open_survives_expiry,
                "a request signed with expired credentials"
            );
            assert!(Instant::now() < deadline, "{fault:?}: no new attempt");
            std::thread::sleep(Duration::from_secs(1));
        }
        previous = fault;
    }

    // STS is back: new sessions get in, same process, with fresh credentials; the open session works.
    let assumed = moto.count("AssumeRole").expect("moto's requests");
    sts.set(Fault::Forward);
    let deadline = Instant::now() + Duration::from_secs(120);
    while let Err(failure) = client.login(port) {
        assert!(Instant::now() < deadline, "still refused: {failure:?}");
        (client.no_credentials)(&failure, &[previous]);
        step(&[previous], true, &mut seen);
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(moto.count("AssumeRole").expect("moto's requests") > assumed);
    assert!(
        step(&[], false, &mut seen),
        "the open session once STS is back"
    );
    seen
}

/// No secret in what clients were told or in the proxy's logs (`stderr`): the proxy's own key, the
/// external ID, and every secret key and session token STS handed out (read off the `sts` relay).
pub(crate) fn assert_no_secrets(sts: &FaultRelay, proxy_key: &str, stderr: &str, told: &[Failure]) {
    for secret in &sts_secrets(sts, proxy_key) {
        assert!(!stderr.contains(secret.as_str()), "a secret in the logs");
        assert!(
            !told.iter().any(|f| f.text.contains(secret.as_str())),
            "a secret in a client's error"
        );
    }
}

/// The database behind `db` killed mid-session (between queries and under one), down (reset,
/// closed), silent, slow, ending its side, and back, with the proxy on `port`: open sessions get an error, never a hang; new sessions get a
/// prompt refusal as `client.no_database` checks; once it is back, new sessions succeed (over a slow
/// path too), all in the same process.
pub(crate) fn upstream_scenario(db: &FaultRelay, port: u16, client: &Client<'_>) {
    // Killed mid-session (every connection reset, and it stays down).
    let mut sessions = [client.open(port), client.open(port)];
    db.set(Fault::Reset);
    db.reset_all();
    for session in &mut sessions {
        let failure = session.query().expect_err("the database is gone");
        eprintln!("killed mid-session: {failure:?}");
        (client.cut)(&failure);
    }
    drop(sessions);

    // Down (resetting or closing connections) or unreachable (silent): a prompt refusal.
    for fault in [Fault::Reset, Fault::Close, Fault::Blackhole] {
        db.set(fault);
        let failure = client.login(port).expect_err("no database, no login");
        eprintln!("database {fault:?}: {failure:?}");
        (client.no_database)(&failure, fault);
    }

    // Back: new sessions succeed; over a slow path (200 ms per chunk) too, old and new.
    db.set(Fault::Forward);
    client.login_until_it_succeeds(port, Duration::from_secs(60));
    let mut open = client.open(port);
    db.set(Fault::Delay(Duration::from_millis(200)));
    client.login(port).expect("a login over a slow path");
    open.query().expect("a query over a slow path");
    db.set(Fault::Forward);
    open.query().expect("a query once the path is fast again");

    // Killed with a query in flight (held on a slow path): that query errs, never hangs.
    let mut held = client.open(port);
    db.set(Fault::Delay(Duration::from_secs(5)));
    let in_flight = std::thread::scope(|s| {
        let query = s.spawn(|| held.query());
        std::thread::sleep(Duration::from_secs(1));
        db.set(Fault::Reset);
        db.reset_all();
        query.join().expect("the query's thread")
    });
    let failure = in_flight.expect_err("the database died under the query");
    eprintln!("killed with a query in flight: {failure:?}");
    (client.cut)(&failure);
    db.set(Fault::Forward);

    // The database ends its side (FIN, as a server shutting down does) and refuses new connections:
    // the open session errs, and the proxy carries on once it is back.
    db.set(Fault::Close);
    db.half_close_all();
    let failure = open.query().expect_err("the database ended the session");
    eprintln!("database half-closed mid-session: {failure:?}");
    (client.cut)(&failure);
    db.set(Fault::Forward);
    client.login_until_it_succeeds(port, Duration::from_secs(60));
}

/// A protocol served by a stand-in, as its fault tests need it.
pub(crate) struct StandInProtocol {
    pub(crate) kind: Kind,
    /// The client's script for [`PySession`]; its `ARGS` are the port, `files` from the operator's
    /// directory, and the user role.
    pub(crate) script: &'static str,
    pub(crate) files: &'static [&'static str],
    /// The codes a new session may be refused with when the proxy has no credentials and STS fails
    /// so.
    pub(crate) credentials_codes: fn(Fault) -> &'static [&'static str],
    /// The code a new session is refused with when the database is down so.
    pub(crate) database_code: fn(Fault) -> &'static str,
}

impl StandInProtocol {
    fn client_args(&self, stack: &StandInStack, port: u16) -> (&'static str, Vec<String>) {
        let mut args = vec![port.to_string()];
        args.extend(self.files.iter().map(|f| stack.file(f)));
        args.push(user_role_name(self.kind).to_owned());
        (self.script, args)
    }

    /// Refused for want of credentials: the protocol's code for one of `faults`, naming a role of
    /// the chain.
    fn no_credentials(&self, stack: &StandInStack, failure: &Failure, faults: &[Fault]) {
        let codes: Vec<&str> = faults
            .iter()
            .flat_map(|f| (self.credentials_codes)(*f))
            .copied()
            .collect();
        assert!(
            codes.contains(&failure.code.as_str()),
            "STS {faults:?}: {failure:?}"
        );
        assert!(
            failure.text.contains(&stack.cross.role_arn)
                || failure.text.contains(&stack.user_role_arn),
            "STS {faults:?}: no role named: {failure:?}"
        );
    }

    /// Refused for want of a database: the protocol's code.
    fn no_database(&self, failure: &Failure, fault: Fault) {
        assert_eq!(
            failure.code,
            (self.database_code)(fault),
            "{fault:?}: {failure:?}"
        );
    }

    /// `f` with this protocol's [`Client`] for `stack`.
    fn with_client<R>(&self, stack: &StandInStack, f: impl FnOnce(&Client<'_>) -> R) -> R {
        let session = |port| self.client_args(stack, port);
        let no_credentials = |f: &Failure, faults: &[Fault]| self.no_credentials(stack, f, faults);
        let no_database = |f: &Failure, fault| self.no_database(f, fault);
        f(&Client {
            session: &session,
            no_credentials: &no_credentials,
            no_database: &no_database,
            cut: &|_| {},
        })
    }

    /// [`sts_scenario`] against a fresh deployment, with debug logs checked for secrets after.
    pub(crate) fn sts_test(&self) {
        let debug = [("RUST_LOG".to_owned(), "debug".to_owned())];
        let mut stack = StandInStack::start(self.kind, Some(STS_LIFETIME), &debug);
        let port = stack.proxy.port();
        let told = self.with_client(&stack, |client| {
            // Both hops' credentials are issued by the first login (the first at start-up).
            let mut steady = client.open(port);
            let issued_by = Instant::now();
            sts_scenario(
                &stack.sts,
                &stack.moto,
                port,
                issued_by,
                &mut steady,
                true,
                client,
            )
        });
        let stderr = stack.proxy.stderr();
        assert!(stderr.contains("DEBUG"), "debug logging is on");
        assert_no_secrets(
            &stack.sts,
            &stack.cross.proxy.secret_access_key,
            &stderr,
            &told,
        );
        assert!(stack.proxy.is_running());
    }

    /// [`upstream_scenario`] against a fresh deployment.
    pub(crate) fn upstream_test(&self) {
        let mut stack = StandInStack::start(self.kind, None, &[]);
        let port = stack.proxy.port();
        self.with_client(&stack, |client| upstream_scenario(&stack.db, port, client));
        assert!(stack.proxy.is_running(), "{}", stack.proxy.stderr());
    }
}
