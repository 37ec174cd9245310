//! The servers behind the demo and the operator's directory in front of them: one AWS emulator with one
//! cross-account role (external ID), one database per protocol that logs in with IAM as its AWS service
//! does, and one `iamwire.yaml` with a listener for each.

use std::path::PathBuf;
use std::process::Command;

use iamwire_testkit::mariadb::{self, MariaDb, MariaDbOptions};
use iamwire_testkit::moto::{
    AwsSetup, CrossAccount, DATABASE_ACCOUNT, Moto, PROXY_ACCOUNT, RoleSpec, allow, trust_policy,
};
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
/// The role (in the database account, trusted by the proxy's role) DynamoDB requests are signed as.
pub(crate) const DYNAMODB_ROLE: &str = "demo-dynamodb";

/// A protocol the demo serves.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// An RDS-like PostgreSQL (RDS IAM tokens through PAM, checked by botocore).
    Postgres,
    /// An RDS-like MariaDB (the same, the server asking for the clear-text plugin over TLS).
    MariaDb,
    /// An ElastiCache-like Redis: the IAM stand-in in front of a real Redis over TLS.
    Redis,
    /// DynamoDB in the AWS emulator (over TLS, checking every SigV4 signature and the signer's policy).
    DynamoDb,
}

impl Kind {
    /// Every protocol, in the order the demo prints them.
    pub(crate) const ALL: [Self; 4] = [Self::Postgres, Self::MariaDb, Self::Redis, Self::DynamoDb];

    /// The database's name in the config.
    pub(crate) fn database(self) -> &'static str {
        match self {
            Self::Postgres => "demo-postgres",
            Self::MariaDb => "demo-mariadb",
            Self::Redis => "demo-redis",
            Self::DynamoDb => "demo-dynamodb",
        }
    }

    /// Its `protocol:` in the config.
    fn protocol(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::MariaDb => "mariadb",
            Self::Redis => "redis",
            Self::DynamoDb => "dynamodb",
        }
    }

    /// The database user alice may be.
    pub(crate) fn user(self) -> &'static str {
        match self {
            Self::Postgres => postgres::IAM_USER,
            Self::MariaDb => mariadb::IAM_USER,
            Self::Redis => CACHE_USER,
            Self::DynamoDb => DYNAMODB_ROLE,
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
            Self::DynamoDb => format!(
                "DynamoDB in the emulator (requests re-signed as role '{}')",
                self.user()
            ),
        }
    }

    /// What the printed command answers when it worked.
    pub(crate) fn answer(self) -> &'static str {
        match self {
            Self::DynamoDb => "TableNames",
            _ => self.user(),
        }
    }

    /// A command that works when pasted: alice's certificate (or access key) from `stack`, the proxy's
    /// listener on `port`.
    pub(crate) fn command(self, stack: &Stack, port: &str) -> Result<String, Error> {
        let user = self.user();
        let dir = stack.dir_str()?;
        Ok(match self {
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
            // The AWS CLI cannot present a client certificate: alice signs with the access key
            // `iamwire keys create` issued her; the proxy checks it and signs again as the role.
            Self::DynamoDb => {
                let (id, secret) = stack.access_key.as_ref().ok_or("no access key yet")?;
                let aws = iamwire_testkit::python().with_file_name("aws");
                format!(
                    "AWS_ACCESS_KEY_ID={id} AWS_SECRET_ACCESS_KEY={secret} {} dynamodb list-tables \
                     --region {REGION} --endpoint-url https://localhost:{port} --ca-bundle {dir}/ca.crt",
                    aws.display()
                )
            }
        })
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
    _redis: Redis,
    /// The rig CA every server's certificate chains to.
    ca_pem: String,
    /// The access key `iamwire keys create` issued alice (id, secret), once the config is written.
    access_key: Option<(String, String)>,
    /// The role the proxy assumes and its own identity.
    pub(crate) cross: CrossAccount,
    /// The AWS emulator.
    pub(crate) moto: Moto,
}

impl Stack {
    /// Start the emulator and the databases.
    pub(crate) fn start() -> Result<Self, Error> {
        let ca = TestCa::new()?;
        let server = ca.server(iamwire_testkit::LOCAL_NAMES)?;
        let moto = Moto::start_with_tls(&server.cert_pem, &server.key_pem)?;
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
        moto.setup(&AwsSetup {
            users: vec![],
            roles: vec![RoleSpec {
                account: DATABASE_ACCOUNT.into(),
                name: DYNAMODB_ROLE.into(),
                trust: trust_policy(&cross.role_arn, None),
                policies: vec![allow(&["dynamodb:*"], "*")],
            }],
        })?;
        let dir = tempfile::Builder::new().prefix("iamwire-demo-").tempdir()?;
        Ok(Self {
            dir,
            pg,
            mariadb,
            standin,
            _redis: redis,
            ca_pem: ca.cert_pem().to_owned(),
            access_key: None,
            cross,
            moto,
        })
    }

    /// The operator's directory as a string (for commands).
    pub(crate) fn dir_str(&self) -> Result<&str, Error> {
        Ok(self.dir.path().to_str().ok_or("temp dir is not UTF-8")?)
    }

    /// Lay out the operator's directory as an operator would (`iamwire certs`, the databases' CA, the
    /// proxy's AWS identity, alice's certificate and access key) and write the config; returns its path.
    pub(crate) fn write_config(&mut self) -> Result<PathBuf, Error> {
        let dir = self.dir.path().to_owned();
        let d = self.dir_str()?.to_owned();
        iamwire_ok(&["certs", "init", "--dir", &d])?;
        iamwire_ok(&["certs", "client", "--dir", &d, "--name", "alice"])?;
        std::fs::write(dir.join("db-ca.crt"), &self.ca_pem)?;
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
        iamwire_ok(&["keys", "init", "--out", &format!("{d}/master.key")])?;
        let issued = iamwire_out(&[
            "keys",
            "create",
            "--master-key",
            &format!("{d}/master.key"),
            "--identity",
            "alice",
            "--role",
            DYNAMODB_ROLE,
        ])?;
        let value = |name: &str| {
            issued
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::to_owned)
                .ok_or_else(|| format!("iamwire keys create printed no {name}"))
        };
        let key_id = value("AWS_ACCESS_KEY_ID=")?;
        self.access_key = Some((key_id.clone(), value("AWS_SECRET_ACCESS_KEY=")?));

        let mut listeners = String::new();
        let mut databases = String::new();
        for kind in Kind::ALL {
            listeners.push_str(&format!(
                "    - database: {}\n      listen: 127.0.0.1:0\n",
                kind.database()
            ));
            databases.push_str(&database_yaml(kind, &self.uri(kind)?, &self.cross.role_arn));
        }
        let users: Vec<String> = Kind::ALL
            .iter()
            .map(|k| format!("{:?}", k.user()))
            .collect();
        let config = dir.join("iamwire.yaml");
        // client_auth optional: the AWS CLI signs with an access key instead of presenting a certificate;
        // the other protocols still need alice's certificate (no proxy passwords are configured).
        std::fs::write(
            &config,
            format!(
                "proxy:\n  tls:\n    cert_file: server.crt\n    key_file: server.key\n    \
                 client_ca_file: ca.crt\n    client_auth: optional\n  listeners:\n{listeners}  \
                 identities:\n    - name: alice\n      db_labels: {{\"*\": \"*\"}}\n      \
                 db_users: [{users}]\n      db_names: [\"*\"]\n  access_keys:\n    \
                 master_key_file: master.key\n    keys:\n    - {{id: {key_id}, identity: alice, role: \
                 {DYNAMODB_ROLE}}}\n\
                 aws:\n  region: {REGION}\n  env_file: aws.env\n\
                 db_service:\n  enabled: \"yes\"\n  databases:\n{databases}",
                users = users.join(", "),
            ),
        )?;
        Ok(config)
    }

    /// Where `kind`'s server listens: `localhost:PORT`, or the emulator's HTTPS address for DynamoDB.
    pub(crate) fn uri(&self, kind: Kind) -> Result<String, Error> {
        Ok(match kind {
            Kind::Postgres => format!("localhost:{}", self.pg.port()),
            Kind::MariaDb => format!("localhost:{}", self.mariadb.port()),
            Kind::Redis => format!("localhost:{}", self.standin.port()),
            Kind::DynamoDb => self.moto.tls_endpoint().ok_or("the emulator has no TLS")?,
        })
    }
}

/// Run `iamwire <args>`, which must succeed; its stdout.
fn iamwire_out(args: &[&str]) -> Result<String, Error> {
    let out = Command::new(crate::iamwire()?).args(args).output()?;
    if !out.status.success() {
        return Err(format!(
            "iamwire {}: {}",
            args[0],
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// `kind`'s entry under `db_service.databases`: verified TLS upstream (the rig CA), the role with its
/// external ID, and for Redis the replication group its tokens name.
fn database_yaml(kind: Kind, uri: &str, role: &str) -> String {
    let mut yaml = format!(
        "  - name: {}\n    protocol: {}\n    uri: \"{uri}\"\n    tls:\n      mode: verify-full\n      \
         ca_cert_file: db-ca.crt\n    aws:\n      region: {REGION}\n      assume_role_arn: \"{role}\"\n      \
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
