//! The protocols the demo serves: each one's database, user, banner line and a command that works when
//! pasted (and that `--check` runs: for the AWS-native databases, a write and a read back).

use iamwire_testkit::mariadb;
use iamwire_testkit::postgres;

use crate::Error;
use crate::stack::{CACHE, CACHE_USER, REGION, Stack};

/// A protocol the demo serves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An RDS-like PostgreSQL (RDS IAM tokens through PAM, checked by botocore).
    Postgres,
    /// An RDS-like MariaDB (the same, the server asking for the clear-text plugin over TLS).
    MariaDb,
    /// An ElastiCache-like Redis: the IAM stand-in in front of a real Redis over TLS.
    Redis,
    /// DynamoDB in the AWS emulator (over TLS, checking every SigV4 signature and the signer's policy).
    DynamoDb,
    /// A Keyspaces stand-in (CQL over TLS) checking each SigV4 answer with AWS's own cassandra-sigv4.
    Keyspaces,
    /// A DocumentDB stand-in checking MONGODB-AWS logins against the emulator's STS.
    DocumentDb,
    /// The emulator's OpenSearch stand-in, checking every SigV4 signature with botocore.
    OpenSearch,
}

impl Kind {
    /// Every protocol, in the order the demo prints them.
    pub(crate) const ALL: [Self; 7] = [
        Self::Postgres,
        Self::MariaDb,
        Self::Redis,
        Self::DynamoDb,
        Self::Keyspaces,
        Self::DocumentDb,
        Self::OpenSearch,
    ];

    /// The database's name in the config.
    pub(crate) fn database(self) -> &'static str {
        match self {
            Self::Postgres => "demo-postgres",
            Self::MariaDb => "demo-mariadb",
            Self::Redis => "demo-redis",
            Self::DynamoDb => "demo-dynamodb",
            Self::Keyspaces => "demo-keyspaces",
            Self::DocumentDb => "demo-documentdb",
            Self::OpenSearch => "demo-opensearch",
        }
    }

    /// Its `protocol:` in the config.
    pub(crate) fn protocol(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::MariaDb => "mariadb",
            Self::Redis => "redis",
            Self::DynamoDb => "dynamodb",
            Self::Keyspaces => "cassandra",
            Self::DocumentDb => "mongodb",
            Self::OpenSearch => "opensearch",
        }
    }

    /// The database user alice may be (for the AWS-native databases, the IAM role of the same name in
    /// the database account, which the proxy assumes through the database's role).
    pub(crate) fn user(self) -> &'static str {
        match self {
            Self::Postgres => postgres::IAM_USER,
            Self::MariaDb => mariadb::IAM_USER,
            Self::Redis => CACHE_USER,
            Self::DynamoDb | Self::Keyspaces | Self::DocumentDb | Self::OpenSearch => {
                self.database()
            }
        }
    }

    /// The actions the database-user role may take; `None` for a database user that is not a role.
    pub(crate) fn role_actions(self) -> Option<&'static [&'static str]> {
        match self {
            Self::DynamoDb => Some(&["dynamodb:*"]),
            Self::Keyspaces => Some(&["cassandra:*"]),
            Self::DocumentDb => Some(&["sts:GetCallerIdentity"]),
            Self::OpenSearch => Some(&["es:*"]),
            _ => None,
        }
    }

    /// Whether alice uses it with an access key from `iamwire keys` (HTTP clients cannot present a
    /// client certificate).
    pub(crate) fn uses_access_key(self) -> bool {
        matches!(self, Self::DynamoDb | Self::OpenSearch)
    }

    /// What the server is, for the banner.
    pub(crate) fn describe(self) -> String {
        let user = self.user();
        match self {
            Self::Postgres => format!("RDS-like PostgreSQL (user '{user}': RDS IAM tokens only)"),
            Self::MariaDb => format!(
                "RDS-like MariaDB (user '{user}': RDS IAM tokens, clear-text plugin over TLS)"
            ),
            Self::Redis => {
                format!("ElastiCache-like Redis (user '{user}': IAM tokens for {CACHE})")
            }
            Self::DynamoDb => {
                format!("DynamoDB in the emulator (requests re-signed as role '{user}')")
            }
            Self::Keyspaces => format!(
                "Keyspaces stand-in (CQL; the SigV4 challenge answered as role '{user}', checked by \
                 AWS's cassandra-sigv4)"
            ),
            Self::DocumentDb => format!(
                "DocumentDB stand-in (MONGODB-AWS login as role '{user}', checked by the emulator's STS)"
            ),
            Self::OpenSearch => format!(
                "OpenSearch stand-in (requests re-signed as role '{user}', checked by botocore)"
            ),
        }
    }

    /// What the printed command answers when it worked.
    pub(crate) fn answer(self) -> &'static str {
        match self {
            Self::DynamoDb => "hello from dynamodb",
            Self::Keyspaces => "hello from keyspaces",
            Self::DocumentDb => "hello from documentdb",
            Self::OpenSearch => "hello from opensearch",
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
            // The table is created once (a second paste finds it there); then an item is written and
            // read back.
            Self::DynamoDb => {
                let (id, secret) = stack.access_key(self)?;
                let aws = iamwire_testkit::python().with_file_name("aws");
                let ddb = format!(
                    "{} dynamodb --region {REGION} --endpoint-url https://localhost:{port} \
                     --ca-bundle {dir}/ca.crt",
                    aws.display()
                );
                format!(
                    "export AWS_ACCESS_KEY_ID={id} AWS_SECRET_ACCESS_KEY={secret}; {{ {ddb} describe-table \
                     --table-name greetings >/dev/null 2>&1 || {ddb} create-table --table-name greetings \
                     --attribute-definitions AttributeName=k,AttributeType=S --key-schema \
                     AttributeName=k,KeyType=HASH --billing-mode PAY_PER_REQUEST >/dev/null; }} && {ddb} \
                     put-item --table-name greetings --item '{{\"k\": {{\"S\": \"alice\"}}, \"text\": \
                     {{\"S\": \"hello from dynamodb\"}}}}' && {ddb} get-item --table-name greetings --key \
                     '{{\"k\": {{\"S\": \"alice\"}}}}' --query Item.text.S --output text"
                )
            }
            // The DataStax Python driver (no cqlsh here): the script the demo wrote next to the
            // certificates creates a table, writes a row and reads it back.
            Self::Keyspaces => format!(
                "{} {dir}/keyspaces.py {port} {user}",
                iamwire_testkit::python().display()
            ),
            // mongosh, PLAIN on $external naming the role (the password is not used: the certificate is
            // the credential; the proxy logs in with MONGODB-AWS as the role).
            Self::DocumentDb => format!(
                "{} \"mongodb://{user}:unused@localhost:{port}/?tls=true&tlsCAFile={dir}/ca.crt\
                 &tlsCertificateKeyFile={dir}/alice.pem&authMechanism=PLAIN&authSource=%24external\
                 &directConnection=true&retryWrites=false\" --quiet --norc --eval 'const c = \
                 db.getSiblingDB(\"app\").greetings; c.insertOne({{from: \"alice\", text: \"hello from \
                 documentdb\"}}); print(c.findOne({{from: \"alice\"}}).text)'",
                iamwire_testkit::mongosh().display()
            ),
            // curl signs with SigV4 itself (--aws-sigv4), with the access key issued for this role.
            Self::OpenSearch => {
                let (id, secret) = stack.access_key(self)?;
                let curl = format!(
                    "curl -sS --fail-with-body --cacert {dir}/ca.crt --aws-sigv4 aws:amz:{REGION}:es \
                     --user {id}:{secret}"
                );
                let doc = format!("https://localhost:{port}/greetings/_doc/alice");
                format!(
                    "{curl} -X PUT -H 'Content-Type: application/json' -d '{{\"text\": \"hello from \
                     opensearch\"}}' {doc} && echo && {curl} {doc} && echo"
                )
            }
        })
    }
}

/// The Keyspaces client the demo writes as `keyspaces.py` next to alice's certificate (argv: the proxy's
/// port, the role): the DataStax Python driver with mutual TLS, the role as the PLAIN user.
pub(crate) const KEYSPACES_CLIENT: &str = r#""""The iamwire demo's Keyspaces client: cassandra-driver through iamwire with alice's certificate."""
import os, ssl, sys
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster

here = os.path.dirname(os.path.abspath(__file__))
port, role = int(sys.argv[1]), sys.argv[2]
context = ssl.create_default_context(cafile=os.path.join(here, "ca.crt"))
context.load_cert_chain(os.path.join(here, "alice.crt"), os.path.join(here, "alice.key"))
# The password is not used: the certificate is alice's credential; the proxy signs as the role.
cluster = Cluster(["127.0.0.1"], port=port, ssl_context=context, ssl_options={"server_hostname": "localhost"},
                  auth_provider=PlainTextAuthProvider(username=role, password="unused"),
                  schema_metadata_enabled=False, token_metadata_enabled=False,
                  connect_timeout=30, control_connection_timeout=30)
session = cluster.connect()
session.execute("USE app")
session.execute("CREATE TABLE IF NOT EXISTS greetings (k text PRIMARY KEY, v text)")
session.execute("INSERT INTO greetings (k, v) VALUES ('alice', 'hello from keyspaces')")
row = session.execute("SELECT v FROM greetings WHERE k = 'alice'").one()
print(role, "wrote and read back:", row.v)
cluster.shutdown()
"#;
