//! The demo proxy's authorizer: per-identity allow-lists of databases (by label), database users and names.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Authorizer, ClientIdentity, Denied, Glob, SessionRequest};

/// What one identity may do. Everything is denied unless a rule allows it: an empty list allows nothing.
///
/// ```yaml
/// - name: alice            # a client certificate's CN (or DNS SAN)
///   db_labels: {env: "dev"} # databases whose labels match all of these (`"*": "*"` = every database)
///   db_users: ["app_*"]
///   db_names: ["*"]
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityRules {
    /// The identity these rules are for (exact match against the identity's names).
    pub name: String,
    /// Label selectors a database must match, all of them; the key `*` with value `*` matches any database.
    #[serde(default)]
    pub db_labels: BTreeMap<String, Glob>,
    /// Database users the identity may log in as.
    #[serde(default)]
    pub db_users: Vec<Glob>,
    /// Database names the identity may open (checked only when the protocol carries one).
    #[serde(default)]
    pub db_names: Vec<Glob>,
}

impl IdentityRules {
    /// Whether these rules cover a database with `labels` (every selector matches).
    pub fn covers(&self, labels: &BTreeMap<String, String>) -> bool {
        labels_match(&self.db_labels, labels)
    }
}

/// An [`Authorizer`] over a list of [`IdentityRules`]: a request is allowed when one rule for the identity
/// allows the database, the user and the name together.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    rules: Vec<IdentityRules>,
}

impl AllowList {
    /// An allow-list from rules.
    pub fn new(rules: Vec<IdentityRules>) -> Self {
        Self { rules }
    }

    /// The rules.
    pub fn rules(&self) -> &[IdentityRules] {
        &self.rules
    }

    fn check(
        rule: &IdentityRules,
        who: &ClientIdentity,
        want: &SessionRequest<'_>,
    ) -> Result<(), Denied> {
        let identity = who.name().to_string();
        let database = want.database.name.clone();
        if !labels_match(&rule.db_labels, &want.database.labels) {
            return Err(Denied::Database { identity, database });
        }
        if !rule.db_users.iter().any(|g| g.matches(want.db_user)) {
            return Err(Denied::DbUser {
                identity,
                database,
                db_user: want.db_user.to_string(),
            });
        }
        if let Some(name) = want.db_name
            && !rule.db_names.iter().any(|g| g.matches(name))
        {
            return Err(Denied::DbName {
                identity,
                database,
                db_name: name.to_string(),
            });
        }
        Ok(())
    }
}

fn labels_match(selectors: &BTreeMap<String, Glob>, labels: &BTreeMap<String, String>) -> bool {
    if selectors.is_empty() {
        return false;
    }
    selectors.iter().all(|(key, value)| {
        if key == "*" {
            value.as_str() == "*"
        } else {
            labels.get(key).is_some_and(|v| value.matches(v))
        }
    })
}

impl Authorizer for AllowList {
    fn authorize(&self, who: &ClientIdentity, want: &SessionRequest<'_>) -> Result<(), Denied> {
        let mut first_denial = None;
        for rule in self
            .rules
            .iter()
            .filter(|r| who.names().any(|n| n == r.name))
        {
            match Self::check(rule, who, want) {
                Ok(()) => return Ok(()),
                Err(denied) => {
                    first_denial.get_or_insert(denied);
                }
            }
        }
        Err(first_denial.unwrap_or_else(|| Denied::UnknownIdentity {
            identity: who.name().to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::IdentitySource;
    use crate::{Database, Protocol};

    fn rules() -> AllowList {
        let yaml = br#"
- name: alice
  db_labels: {env: "dev"}
  db_users: ["app_*", "iam_user"]
  db_names: ["app"]
- name: ops.example.com
  db_labels: {"*": "*"}
  db_users: ["*"]
  db_names: ["*"]
- name: nobody
"#;
        AllowList::new(crate::parse_yaml(yaml, &crate::YamlLimits::default()).unwrap())
    }

    fn db(env: &str) -> Database {
        let mut db = Database::new("pg", Protocol::Postgres, "localhost:5432");
        db.labels.insert("env".into(), env.into());
        db
    }

    fn cert(cn: &str, sans: &[&str]) -> ClientIdentity {
        ClientIdentity::from_certificate(
            Some(cn.into()),
            sans.iter().map(|s| s.to_string()).collect(),
        )
        .unwrap()
    }

    #[test]
    fn allows_only_what_a_rule_names() {
        let list = rules();
        let (dev, prod) = (db("dev"), db("prod"));
        let alice = cert("alice", &[]);
        let ask = |database, db_user, db_name| SessionRequest {
            database,
            db_user,
            db_name,
        };
        assert_eq!(
            list.authorize(&alice, &ask(&dev, "app_reader", Some("app"))),
            Ok(())
        );
        assert_eq!(list.authorize(&alice, &ask(&dev, "iam_user", None)), Ok(()));
        assert!(matches!(
            list.authorize(&alice, &ask(&prod, "app_reader", Some("app"))),
            Err(Denied::Database { .. })
        ));
        assert!(matches!(
            list.authorize(&alice, &ask(&dev, "postgres", Some("app"))),
            Err(Denied::DbUser { .. })
        ));
        assert!(matches!(
            list.authorize(&alice, &ask(&dev, "app_x", Some("other"))),
            Err(Denied::DbName { .. })
        ));
        // A DNS SAN is a name too.
        let ops = cert("someone", &["ops.example.com"]);
        assert_eq!(
            list.authorize(&ops, &ask(&prod, "postgres", Some("x"))),
            Ok(())
        );
        // Empty lists allow nothing; unknown identities are told so.
        let nobody = cert("nobody", &[]);
        assert!(matches!(
            list.authorize(&nobody, &ask(&dev, "app_x", None)),
            Err(Denied::Database { .. })
        ));
        let stranger = ClientIdentity::new("mallory", IdentitySource::ProxyPassword);
        assert!(matches!(
            list.authorize(&stranger, &ask(&dev, "app_x", None)),
            Err(Denied::UnknownIdentity { .. })
        ));
    }

    #[test]
    fn unknown_rule_fields_are_rejected() {
        let bad = b"- name: a\n  db_user: [x]\n";
        assert!(
            crate::parse_yaml::<Vec<IdentityRules>>(bad, &crate::YamlLimits::default()).is_err()
        );
    }
}
