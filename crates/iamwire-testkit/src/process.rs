//! Running helper programs: as the `postgres` user when we are root, killed on drop, waited for.

use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Result, RigError};

/// How long a throwaway server may take to start on a loaded 2-core machine.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Whether this process runs as root (the owner of `/proc/self` is our effective uid).
pub(crate) fn is_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// A command that runs as `user` when we are root (Postgres refuses to run as root), else as ourselves.
pub(crate) fn command_as(user: &str, program: impl AsRef<Path>) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.arg("-u").arg(user).arg("--").arg(program.as_ref());
        cmd
    } else {
        Command::new(program.as_ref())
    }
}

/// Run a command to completion; a non-zero exit is an error carrying the tail of its output.
pub(crate) fn run(cmd: &mut Command) -> Result<Output> {
    let program = format!("{:?}", cmd.get_program());
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(RigError::io(format!("running {program}")))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(RigError::Command {
            // Program and arguments only: the environment may hold a password or token.
            program: std::iter::once(cmd.get_program())
                .chain(cmd.get_args())
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            status: out.status.to_string(),
            output: tail(&[out.stdout.as_slice(), out.stderr.as_slice()].concat()),
        })
    }
}

/// The last couple of kilobytes of some output, lossily decoded.
pub(crate) fn tail(bytes: &[u8]) -> String {
    let start = bytes.len().saturating_sub(2048);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// The tail of a log file, or a note that it could not be read.
pub(crate) fn log_tail(path: &Path) -> String {
    let mut buf = Vec::new();
    match fs::File::open(path).and_then(|mut f| f.read_to_end(&mut buf)) {
        Ok(_) => tail(&buf),
        Err(e) => format!("(no log at {}: {e})", path.display()),
    }
}

/// A stand-in written in Python: `script` written into `dir` as `name` and run with the venv's Python
/// and `args`, its stderr in `dir/standin.log`, stopped on drop; returns once it printed `PORT <n>`.
pub(crate) fn start_standin(
    dir: &Path,
    name: &str,
    script: &str,
    args: &[&std::ffi::OsStr],
    what: &str,
) -> Result<(ChildGuard, u16)> {
    use std::io::{BufRead, BufReader};
    let path = dir.join(name);
    fs::write(&path, script).map_err(RigError::io(format!("writing the {what}")))?;
    let log = dir.join("standin.log");
    let log_file = fs::File::create(&log).map_err(RigError::io(format!("{what} log")))?;
    let child = Command::new(crate::python())
        .arg(&path)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log_file)
        .spawn()
        .map_err(RigError::io(format!("starting the {what}")))?;
    let mut guard = ChildGuard::new(child);
    let mut line = String::new();
    if let Some(out) = guard.child_mut().stdout.take() {
        BufReader::new(out)
            .read_line(&mut line)
            .map_err(RigError::io(format!("reading the {what}'s port")))?;
    }
    let port = line
        .trim()
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| RigError::Protocol {
            what: what.to_owned(),
            detail: log_tail(&log),
        })?;
    Ok((guard, port))
}

/// The records of a JSON-lines log a stand-in appends to (none yet if it does not exist).
pub(crate) fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RigError::io("reading a stand-in's log")(e)),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).map_err(|e| RigError::Protocol {
                what: "stand-in log".into(),
                detail: e.to_string(),
            })
        })
        .collect()
}

/// A child process killed (and reaped) when dropped.
#[derive(Debug)]
pub(crate) struct ChildGuard {
    child: Child,
}

impl ChildGuard {
    pub(crate) fn new(child: Child) -> Self {
        Self { child }
    }

    pub(crate) fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Fails if the process has already exited (used while waiting for it to come up).
    pub(crate) fn check_alive(&mut self, what: &str, log: &Path) -> Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(RigError::Command {
                program: what.to_string(),
                status: status.to_string(),
                output: log_tail(log),
            }),
            Err(e) => Err(RigError::io(format!("waiting for {what}"))(e)),
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port on 127.0.0.1 that was free a moment ago (servers that cannot bind port 0 themselves use it; the
/// caller retries on the rare collision).
pub(crate) fn free_port() -> Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(RigError::io("binding 127.0.0.1:0"))?;
    let port = listener
        .local_addr()
        .map_err(RigError::io("reading local address"))?
        .port();
    Ok(port)
}

/// Wait until `ready` says yes, checking that the server process is still alive in between.
pub(crate) fn wait_until(
    what: &str,
    guard: &mut ChildGuard,
    log: &Path,
    mut ready: impl FnMut() -> bool,
) -> Result<()> {
    let start = Instant::now();
    loop {
        if ready() {
            return Ok(());
        }
        guard.check_alive(what, log)?;
        if start.elapsed() > START_TIMEOUT {
            return Err(RigError::Timeout {
                what: what.to_string(),
                seconds: START_TIMEOUT.as_secs(),
                detail: log_tail(log),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether something accepts TCP connections at `addr`.
pub(crate) fn accepts(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// Hand a file or directory to `user` (when root): the servers run as that user and must read their keys.
pub(crate) fn chown_to(path: &Path, user: &str) -> Result<()> {
    if is_root() {
        run(Command::new("chown")
            .arg("-R")
            .arg(format!("{user}:"))
            .arg(path))?;
    }
    Ok(())
}

/// A private scratch directory that `user` can use (world-traversable parent, owned by `user`).
pub(crate) fn scratch_dir(prefix: &str, user: &str) -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(RigError::io("creating a scratch directory"))?;
    set_mode(dir.path(), 0o755)?;
    chown_to(dir.path(), user)?;
    Ok(dir)
}

/// Set a path's permission bits.
pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(RigError::io(format!("chmod {}", path.display())))
}

/// Write a file, creating it with `mode`.
pub(crate) fn write_file(path: &Path, contents: impl AsRef<[u8]>, mode: u32) -> Result<()> {
    fs::write(path, contents).map_err(RigError::io(format!("writing {}", path.display())))?;
    set_mode(path, mode)
}
