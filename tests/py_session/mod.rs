//! A real client in the rig venv's Python (the DataStax driver, pymongo, boto3), driven a query at a
//! time: the test writes a line, the client runs its `once()` and answers a JSON line. Between queries
//! the client keeps its connections, so one `PySession` is one long-lived session; a fresh one is a new
//! login. Also the client scripts more than one suite runs.

#![allow(dead_code)] // each test binary uses its own part

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The most a query (or a login) may take before the test calls it a hang: the clients' own timeouts
/// are 30 s, and a loaded 2-core machine adds to that.
pub(crate) const HANG: Duration = Duration::from_secs(90);

/// Before the client's script: its arguments.
const HEAD: &str = r#"
import json, sys
ARGS = sys.argv[1:]
"#;

/// After the client's script (which defines `once()` and `failure(e) -> (code, text)`): one `once()`
/// per line read.
const TAIL: &str = r#"
for line in sys.stdin:
    try:
        once()
        answer = {"ok": True}
    except Exception as e:
        code, text = failure(e)
        answer = {"ok": False, "code": str(code), "text": text}
    print(json.dumps(answer), flush=True)
"#;

/// What a failed query or login looked like to the client: the protocol's error code (as the script
/// read it; `none` if there was none) and the client's whole text.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) code: String,
    pub(crate) text: String,
}

/// One client process; killed on drop.
pub(crate) struct PySession {
    child: Child,
    stdin: ChildStdin,
    answers: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl PySession {
    /// Start `script` (defining `once()` and `failure(e)`) with `args` (as `ARGS`); it connects when
    /// its `once()` says so.
    pub(crate) fn start(script: &str, args: &[String]) -> Self {
        let program = [HEAD, script, TAIL].concat();
        let mut child = Command::new(iamwire_testkit::python())
            .args(["-c", &program])
            .args(args)
            // The clients must trust the rig's CA, which these would override.
            .env_remove("REQUESTS_CA_BUNDLE")
            .env_remove("CURL_CA_BUNDLE")
            .env_remove("AWS_CA_BUNDLE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the venv's python");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, answers) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = crate::e2e_run_support::drain(child.stderr.take().expect("stderr"));
        Self {
            child,
            stdin,
            answers,
            stderr,
        }
    }

    /// Run `once()`: `Ok` if it worked, the client's failure if not. A hang ([`HANG`]) fails the test.
    pub(crate) fn query(&mut self) -> Result<(), Failure> {
        let sent = writeln!(self.stdin).and_then(|()| self.stdin.flush());
        let line = match (sent, self.answers.recv_timeout(HANG)) {
            (Ok(()), Ok(line)) => line,
            (sent, answer) => panic!(
                "the client did not answer ({sent:?}, {answer:?}); its stderr:\n{}",
                self.stderr.lock().unwrap()
            ),
        };
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: the client said {line:?}"));
        if v["ok"] == true {
            return Ok(());
        }
        Err(Failure {
            code: v["code"].as_str().unwrap_or("none").to_owned(),
            text: v["text"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// A session that has answered one query.
    pub(crate) fn open(script: &str, args: &[String]) -> Self {
        let mut session = Self::start(script, args);
        if let Err(failure) = session.query() {
            panic!("a new session failed: {failure:?}");
        }
        session
    }
}

impl Drop for PySession {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The DataStax Python driver (`ARGS`: port, CA, certificate, key, user role): `once()` logs in on
/// first use and reads `system.local`; `failure(e)` finds the CQL error code in the driver's text. The
/// hostile suite's steady CQL session runs it too.
pub(crate) const CQL_DRIVER: &str = r#"
import re, ssl
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster
port, ca, cert, key, user = ARGS
session = None
def once():
    global session
    if session is None:
        context = ssl.create_default_context(cafile=ca)
        context.load_cert_chain(cert, key)
        cluster = Cluster(["127.0.0.1"], port=int(port), ssl_context=context,
                          ssl_options={"server_hostname": "localhost"},
                          auth_provider=PlainTextAuthProvider(username=user, password="not-used"),
                          schema_metadata_enabled=False, token_metadata_enabled=False,
                          connect_timeout=30, control_connection_timeout=30)
        session = cluster.connect()
    row = session.execute("SELECT release_version FROM system.local", timeout=30).one()
    assert row is not None, "no row"
def failure(e):
    text = repr(e)
    found = re.search(r"code=([0-9A-Fa-f]{4})", text)
    return (found.group(1) if found else "none", text)
"#;
