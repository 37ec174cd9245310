//! The servers behind the demo and the operator's directory in front of them: one AWS emulator with one
//! cross-account role (external ID), one database per protocol that logs in with IAM as its AWS service
//! does, and one `iamwire.yaml` with a listener for each.

use std::path::Path;

use iamwire_testkit::mariadb::{self, MariaDb, MariaDbOptions};
use iamwire_testkit::moto::{CrossAccount, Moto, PROXY_ACCOUNT};
use iamwire_testkit::postgres::{self, PgOptions, Postgres};
use iamwire_testkit::redis::{CacheTokenPolicy, IamStandIn, Redis, create_cache_user};
use iamwire_testkit::{TestCa, TokenPolicy};

use crate::{Error, iamwire_ok};

/// The region the role is assumed in and the tokens are signed for.
pub(crate) const REGION: &str = "us-west-2";
/// The external ID the role's trust policy requires (and the config gives).
pub(crate) const EXTERNAL_ID: &str = "demo-external-id";
/// The ElastiCache replication group the Redis tokens are for.
const CACHE: &str = "demo-cache";
/// The ElastiCache user (authentication type IAM) alice logs in as.
pub(crate) const CACHE_USER: &str = "app";

/// A protocol the demo serves.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// An RDS-like PostgreSQL (RDS IAM tokens through PAM, checked by botocore).
    Postgres,
    /// An RDS-like MariaDB (the same, the server asking for the clear-text plugin over TLS).
    MariaDb,
    /// An ElastiCache-like Redis: the IAM stand-in in front of a real Redis over TLS.
    Redis,
}

impl Kind {
    /// Every protocol, in the order the demo prints them.
    pub(crate) const ALL: [Self; 3] = [Self::Postgres, Self::MariaDb, Self::Redis];

    /// The database's name in the config.
    pub(crate) fn database(self) -> &'static str {
        match self {
            Self::Postgres => "demo-postgres",
            Self::MariaDb => "demo-mariadb",
            Self::Redis => "demo-redis",
        }
    }

    /// Its `protocol:` in the config.
    fn protocol(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::MariaDb => "mariadb",
            Self::Redis => "redis",
        }
    }

    /// The database user alice may be.
    pub(crate) fn user(self) -> &'static str {
        match self {
            Self::Postgres => postgres::IAM_USER,
            Self::MariaDb => mariadb::IAM_USER,
            Self::Redis => CACHE_USER,
        }
    }

    /// What the server is, for the banner.
    pub(crate) fn describe(self) -> String {
        match self {
            Self::Postgres => format!(
                "RDS-like PostgreSQL (user '{}': RDS IAM tokens only)",
                self.user()
            ),
            Self::MariaDb => format!(
                "RDS-like MariaDB (user '{}': RDS IAM tokens, clear-text plugin over TLS)",
                self.user()
            ),
            Self::Redis => format!(
                "ElastiCache-like Redis (user '{}': IAM tokens for {CACHE})",
                self.user()
            ),
        }
    }

    /// A command that works when pasted: alice's certificate from `dir`, the proxy's listener on `port`.
    pub(crate) fn command(self, dir: &str, port: &str) -> String {
        let user = self.user();
        match self {
            Self::Postgres => format!(
                "psql \"host=localhost port={port} user={user} dbname=app sslmode=verify-full \
                 sslrootcert={dir}/ca.crt sslcert={dir}/alice.crt sslkey={dir}/alice.key\" \
                 -c 'SELECT current_user'"
            ),
            Self::MariaDb => format!(
                "mariadb --no-defaults -h localhost --protocol=TCP --port={port} --user={user} \
                 --database=app --ssl-ca={dir}/ca.crt --ssl-verify-server-cert \
                 --ssl-cert={dir}/alice.crt --ssl-key={dir}/alice.key -e 'SELECT CURRENT_USER()'"
            ),
            // redis-cli sends AUTH only with a password; the proxy never uses it (the certificate is
            // the credential, the database gets an ElastiCache IAM token).
            Self::Redis => format!(
                "redis-cli --tls -h localhost -p {port} --cacert {dir}/ca.crt --cert {dir}/alice.crt \
                 --key {dir}/alice.key --user {user} --pass unused --no-auth-warning ACL WHOAMI"
            ),
        }
    }
}

/// Everything behind the proxy; dropping it stops the servers and deletes their files.
pub(crate) struct Stack {
    /// The operator's directory: certificates, `aws.env`, `iamwire.yaml`.
    pub(crate) dir: tempfile::TempDir,
    /// The RDS-like PostgreSQL.
    pub(crate) pg: Postgres,
    /// The RDS-like MariaDB.
    pub(crate) mariadb: MariaDb,
    /// The ElastiCache stand-in (in front of `redis`).
    pub(crate) standin: IamStandIn,
    /// The real Redis behind the stand-in.
    redis: Redis,
    /// The role the proxy assumes and its own identity.
    pub(crate) cross: CrossAccount,
    /// The AWS emulator.
    pub(crate) moto: Moto,
}

impl Stack {
    /// Start the emulator and the databases.
    pub(crate) fn start() -> Result<Self, Error> {
        let ca = TestCa::new()?;
        let moto = Moto::start()?;
        let tokens = TokenPolicy {
            moto_url: Some(moto.endpoint()),
            region: Some(REGION.into()),
            ..TokenPolicy::default()
        };
        let pg = Postgres::start(
            &ca,
            PgOptions {
                tokens: tokens.clone(),
                ..PgOptions::default()
            },
        )?;
        let mariadb = MariaDb::start(&ca, MariaDbOptions { tokens })?;
        let redis = Redis::start(&ca)?;
        create_cache_user(&moto, "elasticache", REGION, CACHE_USER, true)?;
        let policy = CacheTokenPolicy::elasticache(CACHE, REGION, moto.endpoint());
        let standin = IamStandIn::start(&redis, &policy)?;
        let cross = moto.cross_account("iamwire-demo-db", EXTERNAL_ID)?;
        let dir = tempfile::Builder::new().prefix("iamwire-demo-").tempdir()?;
        Ok(Self {
            dir,
            pg,
            mariadb,
            standin,
            redis,
            cross,
            moto,
        })
    }

    /// The operator's directory as a string (for commands).
    pub(crate) fn dir_str(&self) -> Result<&str, Error> {
        Ok(self.dir.path().to_str().ok_or("temp dir is not UTF-8")?)
    }

    /// Lay out the operator's directory as an operator would (`iamwire certs`, the databases' CA, the
    /// proxy's AWS identity) and write the config; returns its path.
    pub(crate) fn write_config(&self) -> Result<std::path::PathBuf, Error> {
        let dir = self.dir.path();
        let d = self.dir_str()?;
        iamwire_ok(&["certs", "init", "--dir", d])?;
        iamwire_ok(&["certs", "client", "--dir", d, "--name", "alice"])?;
        std::fs::write(
            dir.join("aws.env"),
            format!(
                "# The proxy's own AWS identity (account {PROXY_ACCOUNT}); like /etc/default/teleport\n\
                 AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\nAWS_ENDPOINT_URL={}\n",
                self.cross.proxy.access_key_id,
                self.cross.proxy.secret_access_key,
                self.moto.endpoint()
            ),
        )?;
        let mut listeners = String::new();
        let mut databases = String::new();
        for kind in Kind::ALL {
            let (port, ca) = self.backend(kind);
            let ca_file = format!("{}-ca.crt", kind.database());
            std::fs::copy(ca, dir.join(&ca_file))?;
            listeners.push_str(&format!(
                "    - database: {}\n      listen: 127.0.0.1:0\n",
                kind.database()
            ));
            databases.push_str(&database_yaml(kind, port, &ca_file, &self.cross.role_arn));
        }
        let users: Vec<String> = Kind::ALL
            .iter()
            .map(|k| format!("{:?}", k.user()))
            .collect();
        let config = dir.join("iamwire.yaml");
        std::fs::write(
            &config,
            format!(
                "proxy:\n  tls:\n    cert_file: server.crt\n    key_file: server.key\n    \
                 client_ca_file: ca.crt\n  listeners:\n{listeners}  identities:\n    - name: alice\n      \
                 db_labels: {{\"*\": \"*\"}}\n      db_users: [{users}]\n      db_names: [\"*\"]\n\
                 aws:\n  region: {REGION}\n  env_file: aws.env\n\
                 db_service:\n  enabled: \"yes\"\n  databases:\n{databases}",
                users = users.join(", "),
            ),
        )?;
        Ok(config)
    }

    /// Where `kind`'s server listens (on localhost) and its CA certificate.
    pub(crate) fn backend(&self, kind: Kind) -> (u16, &Path) {
        match kind {
            Kind::Postgres => (self.pg.port(), &self.pg.tls().ca),
            Kind::MariaDb => (self.mariadb.port(), &self.mariadb.tls().ca),
            Kind::Redis => (self.standin.port(), &self.redis.tls().ca),
        }
    }
}

/// `kind`'s entry under `db_service.databases`: verified TLS upstream, the role with its external ID,
/// and for Redis the replication group its tokens name.
fn database_yaml(kind: Kind, port: u16, ca_file: &str, role: &str) -> String {
    let mut yaml = format!(
        "  - name: {}\n    protocol: {}\n    uri: \"localhost:{port}\"\n    tls:\n      mode: verify-full\n      \
         ca_cert_file: {ca_file}\n    aws:\n      region: {REGION}\n      assume_role_arn: \"{role}\"\n      \
         external_id: \"{EXTERNAL_ID}\"\n",
        kind.database(),
        kind.protocol(),
    );
    if let Kind::Redis = kind {
        yaml.push_str(&format!(
            "      elasticache:\n        replication_group_id: {CACHE}\n"
        ));
    }
    yaml
}
