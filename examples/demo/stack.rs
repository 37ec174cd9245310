//! The servers behind the demo and the operator's directory in front of them: one AWS emulator with one
//! cross-account role (external ID) and a database-user role per AWS-native database, one database (or
//! stand-in) per protocol that logs in with IAM as its AWS service does, and one `iamwire.yaml` with a
//! listener for each.

use std::path::PathBuf;
use std::process::Command;

use iamwire_testkit::documentdb::DocumentDbStandIn;
use iamwire_testkit::keyspaces::KeyspacesStandIn;
use iamwire_testkit::mariadb::{MariaDb, MariaDbOptions};
use iamwire_testkit::moto::{
    AwsSetup, CrossAccount, DATABASE_ACCOUNT, Moto, PROXY_ACCOUNT, RoleSpec, allow, trust_policy,
};
use iamwire_testkit::postgres::{PgOptions, Postgres};
use iamwire_testkit::redis::{CacheTokenPolicy, IamStandIn, Redis, create_cache_user};
use iamwire_testkit::{TestCa, TokenPolicy};

use crate::kind::{KEYSPACES_CLIENT, Kind};
use crate::{Error, iamwire_ok};

/// The region the role is assumed in and the tokens are signed for.
pub(crate) const REGION: &str = "us-west-2";
/// The external ID the role's trust policy requires (and the config gives).
pub(crate) const EXTERNAL_ID: &str = "demo-external-id";
/// The ElastiCache replication group the Redis tokens are for.
pub(crate) const CACHE: &str = "demo-cache";
/// The ElastiCache user (authentication type IAM) alice logs in as.
pub(crate) const CACHE_USER: &str = "app";

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
    /// The Keyspaces stand-in.
    pub(crate) keyspaces: KeyspacesStandIn,
    /// The DocumentDB stand-in.
    pub(crate) documentdb: DocumentDbStandIn,
    /// The rig CA every server's certificate chains to.
    ca_pem: String,
    /// The access keys `iamwire keys create` issued alice (database, id, secret), once the config is
    /// written: one per HTTP database, each acting as that database's role.
    access_keys: Vec<(Kind, String, String)>,
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
        let cross = moto.cross_account("iamwire-demo-db", EXTERNAL_ID)?;
        // A database-user role per AWS-native database, trusted by the database's role.
        let roles = Kind::ALL
            .iter()
            .filter_map(|kind| {
                Some(RoleSpec {
                    account: DATABASE_ACCOUNT.into(),
                    name: kind.user().into(),
                    trust: trust_policy(&cross.role_arn, None),
                    policies: vec![allow(kind.role_actions()?, "*")],
                })
            })
            .collect();
        let created = moto.setup(&AwsSetup {
            users: vec![],
            roles,
        })?;
        let docs_role = created
            .roles
            .get(Kind::DocumentDb.user())
            .ok_or("the emulator did not create the DocumentDB role")?
            .arn
            .clone();
        create_cache_user(&moto, "elasticache", REGION, CACHE_USER, true)?;
        let tokens = TokenPolicy {
            moto_url: Some(moto.endpoint()),
            region: Some(REGION.into()),
            ..TokenPolicy::default()
        };
        // The servers start at once, each in its own thread: start-up is the slowest one's, not the sum.
        let (ca, moto_ref) = (&ca, &moto);
        let (pg, mariadb, redis, keyspaces, documentdb) = std::thread::scope(|scope| {
            let pg_tokens = tokens.clone();
            let pg = scope.spawn(move || {
                let options = PgOptions {
                    tokens: pg_tokens,
                    ..PgOptions::default()
                };
                Postgres::start(ca, options)
            });
            let mariadb = scope.spawn(move || MariaDb::start(ca, MariaDbOptions { tokens }));
            let redis = scope.spawn(move || {
                let redis = Redis::start(ca)?;
                let policy = CacheTokenPolicy::elasticache(CACHE, REGION, moto_ref.endpoint());
                let standin = IamStandIn::start(&redis, &policy)?;
                Ok::<_, iamwire_testkit::RigError>((redis, standin))
            });
            let keyspaces = scope.spawn(move || KeyspacesStandIn::start(ca, moto_ref, REGION));
            let docs_role = &docs_role;
            let documentdb =
                scope.spawn(move || DocumentDbStandIn::start(ca, moto_ref, &[docs_role]));
            (
                joined(pg),
                joined(mariadb),
                joined(redis),
                joined(keyspaces),
                joined(documentdb),
            )
        });
        let (pg, mariadb, (redis, standin), keyspaces, documentdb) =
            (pg?, mariadb?, redis?, keyspaces?, documentdb?);
        let dir = tempfile::Builder::new().prefix("iamwire-demo-").tempdir()?;
        Ok(Self {
            dir,
            pg,
            mariadb,
            standin,
            _redis: redis,
            keyspaces,
            documentdb,
            ca_pem: ca.cert_pem().to_owned(),
            access_keys: Vec::new(),
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
        // mongosh takes the certificate and its key in one file.
        let pem = [
            std::fs::read_to_string(dir.join("alice.crt"))?,
            std::fs::read_to_string(dir.join("alice.key"))?,
        ]
        .concat();
        std::fs::write(dir.join("alice.pem"), pem)?;
        std::fs::write(dir.join("keyspaces.py"), KEYSPACES_CLIENT)?;
        iamwire_ok(&["keys", "init", "--out", &format!("{d}/master.key")])?;
        let mut keys = String::new();
        for kind in Kind::ALL.into_iter().filter(|k| k.uses_access_key()) {
            let (id, secret) = issue_key(&d, kind.user())?;
            keys.push_str(&format!(
                "    - {{id: {id}, identity: alice, role: {}}}\n",
                kind.user()
            ));
            self.access_keys.push((kind, id, secret));
        }
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
                 master_key_file: master.key\n    keys:\n{keys}\
                 aws:\n  region: {REGION}\n  env_file: aws.env\n\
                 db_service:\n  enabled: \"yes\"\n  databases:\n{databases}",
                users = users.join(", "),
            ),
        )?;
        Ok(config)
    }

    /// The access key (id, secret) alice uses for `kind`.
    pub(crate) fn access_key(&self, kind: Kind) -> Result<(&str, &str), Error> {
        self.access_keys
            .iter()
            .find(|(k, _, _)| *k == kind)
            .map(|(_, id, secret)| (id.as_str(), secret.as_str()))
            .ok_or_else(|| format!("no access key for {} yet", kind.database()).into())
    }

    /// Where `kind`'s server listens: `localhost:PORT`, or the emulator's HTTPS address for DynamoDB and
    /// its OpenSearch stand-in.
    pub(crate) fn uri(&self, kind: Kind) -> Result<String, Error> {
        Ok(match kind {
            Kind::Postgres => format!("localhost:{}", self.pg.port()),
            Kind::MariaDb => format!("localhost:{}", self.mariadb.port()),
            Kind::Redis => format!("localhost:{}", self.standin.port()),
            Kind::DynamoDb => self.moto.tls_endpoint().ok_or("the emulator has no TLS")?,
            Kind::Keyspaces => format!("localhost:{}", self.keyspaces.port()),
            Kind::DocumentDb => format!("localhost:{}", self.documentdb.port()),
            Kind::OpenSearch => format!(
                "https://localhost:{}",
                self.moto
                    .opensearch_port()
                    .ok_or("the emulator has no OpenSearch stand-in")?
            ),
        })
    }
}

/// `iamwire keys create` for alice acting as `role`, with the master key in `dir`: (id, secret).
fn issue_key(dir: &str, role: &str) -> Result<(String, String), Error> {
    let issued = iamwire_out(&[
        "keys",
        "create",
        "--master-key",
        &format!("{dir}/master.key"),
        "--identity",
        "alice",
        "--role",
        role,
    ])?;
    let value = |name: &str| {
        issued
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::to_owned)
            .ok_or_else(|| format!("iamwire keys create printed no {name}"))
    };
    Ok((
        value("AWS_ACCESS_KEY_ID=")?,
        value("AWS_SECRET_ACCESS_KEY=")?,
    ))
}

/// The result of a server's start-up thread (a panic in it is an error).
fn joined<T>(
    handle: std::thread::ScopedJoinHandle<'_, iamwire_testkit::Result<T>>,
) -> Result<T, Error> {
    match handle.join() {
        Ok(started) => Ok(started?),
        Err(_) => Err("a server's start-up thread panicked".into()),
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
