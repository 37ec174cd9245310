//! `iamwire certs`: a local CA, a server certificate for the proxy, and client certificates, so that mTLS is
//! one command away. Keys are written PEM (PKCS#8), mode 0600; nothing is overwritten without `--force`.

mod error;
mod files;
mod issue;

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};

pub(crate) use error::CertsError;
use files::Planned;

/// The CA's certificate and key file names in `--dir`.
const CA_CERT: &str = "ca.crt";
const CA_KEY: &str = "ca.key";
const SERVER_CERT: &str = "server.crt";
const SERVER_KEY: &str = "server.key";

/// `iamwire certs ...`
#[derive(Debug, Subcommand)]
pub(crate) enum CertsCommand {
    /// Create a local CA (ca.crt, ca.key) and a server certificate for the proxy (server.crt, server.key).
    Init(InitArgs),
    /// Issue a client certificate (NAME.crt, NAME.key) signed by the CA in --dir; its CN is NAME.
    Client(ClientArgs),
}

/// Arguments of `iamwire certs init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Where to write the CA and the server certificate (created if missing).
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// Host names and IP addresses the server certificate is valid for, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "localhost,127.0.0.1")]
    pub(crate) hosts: Vec<String>,
    /// Overwrite existing files.
    #[arg(long)]
    pub(crate) force: bool,
}

/// Arguments of `iamwire certs client`.
#[derive(Debug, Args)]
pub(crate) struct ClientArgs {
    /// The directory holding ca.crt and ca.key (from `iamwire certs init`).
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// The identity: the certificate's common name, and the name used in `proxy.identities`.
    #[arg(long)]
    pub(crate) name: String,
    /// Where to write NAME.crt and NAME.key (default: --dir).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Overwrite existing files.
    #[arg(long)]
    pub(crate) force: bool,
}

/// Runs a `certs` subcommand; the report says what was written and how to use it.
pub(crate) fn run(command: &CertsCommand) -> Result<String, String> {
    match command {
        CertsCommand::Init(args) => init(args),
        CertsCommand::Client(args) => client(args),
    }
    .map_err(|e| crate::proxy_config::chain(&e))
}

/// `iamwire certs init`.
pub(crate) fn init(args: &InitArgs) -> Result<String, CertsError> {
    let hosts: Vec<String> = args
        .hosts
        .iter()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .collect();
    if hosts.is_empty() {
        return Err(CertsError::NoHosts);
    }
    let dir = files::absolute(&args.dir)?;
    let plan = [
        Planned::cert(dir.join(CA_CERT)),
        Planned::key(dir.join(CA_KEY)),
        Planned::cert(dir.join(SERVER_CERT)),
        Planned::key(dir.join(SERVER_KEY)),
    ];
    files::check_free(&plan, args.force)?;
    let ca = issue::new_ca()?;
    let server = issue::server(&ca, &hosts)?;
    let [ca_crt, ca_key, server_crt, server_key] = &plan;
    files::create_dir(&dir)?;
    files::write(ca_crt, &ca.cert_pem, args.force)?;
    files::write(ca_key, ca.key_pem(), args.force)?;
    files::write(server_crt, &server.cert_pem, args.force)?;
    files::write(server_key, server.key_pem(), args.force)?;

    let mut out = String::new();
    for file in &plan {
        let _ = writeln!(out, "created {}", file.path.display());
    }
    let _ = writeln!(
        out,
        "server certificate valid for: {}\n\nIn the proxy's config file:\n\
         proxy:\n  tls:\n    cert_file: {}\n    key_file: {}\n    client_ca_file: {}\n\n\
         Keep {} secret: it issues certificates the proxy trusts.\n\
         Next: iamwire certs client --dir {} --name alice",
        hosts.join(", "),
        server_crt.path.display(),
        server_key.path.display(),
        ca_crt.path.display(),
        ca_key.path.display(),
        dir.display(),
    );
    Ok(out)
}

/// `iamwire certs client`.
pub(crate) fn client(args: &ClientArgs) -> Result<String, CertsError> {
    check_name(&args.name)?;
    let dir = files::absolute(&args.dir)?;
    let out_dir = files::absolute(args.out.as_deref().unwrap_or(&args.dir))?;
    let plan = [
        Planned::cert(out_dir.join(format!("{}.crt", args.name))),
        Planned::key(out_dir.join(format!("{}.key", args.name))),
    ];
    files::check_free(&plan, args.force)?;
    let ca_cert = dir.join(CA_CERT);
    let ca = issue::load_ca(
        &ca_cert,
        &files::read(&ca_cert)?,
        &dir.join(CA_KEY),
        &files::read(&dir.join(CA_KEY))?,
    )?;
    let certified = issue::client(&ca, &args.name)?;
    let [crt, key] = &plan;
    files::create_dir(&out_dir)?;
    files::write(crt, &certified.cert_pem, args.force)?;
    files::write(key, certified.key_pem(), args.force)?;

    let mut out = String::new();
    for file in &plan {
        let _ = writeln!(out, "created {}", file.path.display());
    }
    let _ = writeln!(
        out,
        "client certificate for identity {name:?} (CN={name}), signed by {ca}\n\n\
         Connect through the proxy (host and port of its listener), e.g.:\n\
         psql \"host=localhost port=15432 user=DB_USER dbname=DB_NAME sslmode=verify-full \
         sslrootcert={ca} sslcert={crt} sslkey={key}\"",
        name = args.name,
        ca = ca_cert.display(),
        crt = crt.path.display(),
        key = key.path.display(),
    );
    Ok(out)
}

/// A client name becomes a file name and a certificate CN: letters, digits, `.`, `_`, `-`, `@`, not
/// starting with `.` or `-`.
fn check_name(name: &str) -> Result<(), CertsError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['.', '-'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(CertsError::InvalidName {
            name: name.to_owned(),
        })
    }
}
