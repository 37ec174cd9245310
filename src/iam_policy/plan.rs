//! The policies a configuration needs, gathered per AWS account and per principal they attach to.

use std::collections::{BTreeMap, BTreeSet};

use super::document::{PolicyDocument, Statement};

/// Whether a policy is attached to a principal (what it may do) or is a role's trust policy (who may
/// assume it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PolicyKind {
    /// An identity (permission) policy.
    Identity,
    /// A role's trust policy.
    Trust,
}

/// One policy document with the purpose of each statement.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub(crate) name: String,
    pub(crate) kind: PolicyKind,
    pub(crate) attach_to: String,
    pub(crate) purpose: String,
    pub(crate) optional: bool,
    pub(crate) statements: Vec<(Statement, String)>,
}

impl Policy {
    /// The document as IAM reads it.
    pub(crate) fn document(&self) -> PolicyDocument {
        PolicyDocument::new(self.statements.iter().map(|(s, _)| s.clone()).collect())
    }
}

/// Every policy, by account, plus notes where a resource could not be narrowed.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// account → (attach_to, kind, optional) → policy
    pub(crate) accounts: BTreeMap<String, BTreeMap<(String, PolicyKind, bool), Policy>>,
    pub(crate) notes: BTreeSet<String>,
}

/// Where a statement goes.
pub(crate) struct Target<'a> {
    pub(crate) account: &'a str,
    pub(crate) attach_to: &'a str,
    pub(crate) kind: PolicyKind,
    pub(crate) optional: bool,
    /// The policy's name (the first statement's target names it).
    pub(crate) name: &'a str,
    pub(crate) purpose: &'a str,
}

impl Plan {
    /// Add `statement` (explained by `purpose`) to the policy `target` names. A statement whose Sid is
    /// already there is merged: actions and resources (or principals) united.
    pub(crate) fn add(&mut self, target: &Target<'_>, statement: Statement, purpose: String) {
        let policy = self
            .accounts
            .entry(target.account.to_owned())
            .or_default()
            .entry((target.attach_to.to_owned(), target.kind, target.optional))
            .or_insert_with(|| Policy {
                name: target.name.to_owned(),
                kind: target.kind,
                attach_to: target.attach_to.to_owned(),
                purpose: target.purpose.to_owned(),
                optional: target.optional,
                statements: Vec::new(),
            });
        match policy
            .statements
            .iter_mut()
            .find(|(s, _)| s.sid == statement.sid)
        {
            Some((existing, existing_purpose)) => {
                merge(existing, statement);
                if !existing_purpose.contains(&purpose) {
                    existing_purpose.push_str("; ");
                    existing_purpose.push_str(&purpose);
                }
            }
            None => policy.statements.push((statement, purpose)),
        }
    }

    /// Say why a resource is wider than it could be.
    pub(crate) fn note(&mut self, note: String) {
        self.notes.insert(note);
    }

    /// Every policy, in a stable order.
    pub(crate) fn policies(&self) -> impl Iterator<Item = (&str, &Policy)> {
        self.accounts
            .iter()
            .flat_map(|(account, policies)| policies.values().map(move |p| (account.as_str(), p)))
    }
}

fn merge(into: &mut Statement, from: Statement) {
    let union = |a: &mut Vec<String>, b: Vec<String>| {
        a.extend(b);
        a.sort();
        a.dedup();
    };
    union(&mut into.action.0, from.action.0);
    if let (Some(a), Some(b)) = (into.resource.as_mut(), from.resource) {
        union(&mut a.0, b.0);
    }
    if let (Some(a), Some(b)) = (into.principal.as_mut(), from.principal) {
        union(&mut a.aws.0, b.aws.0);
    }
    for (operator, keys) in from.condition {
        let entry = into.condition.entry(operator).or_default();
        for (key, values) in keys {
            union(&mut entry.entry(key).or_default().0, values.0);
        }
    }
}

/// `text` as a statement id: letters and digits only, each word capitalised (`rds-postgres` →
/// `RdsPostgres`).
pub(crate) fn sid(prefix: &str, text: &str) -> String {
    let mut out = prefix.to_owned();
    for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_are_alphanumeric() {
        assert_eq!(sid("Connect", "rds-postgres_2"), "ConnectRdsPostgres2");
        assert_eq!(sid("Assume", "db.access"), "AssumeDbAccess");
    }

    #[test]
    fn statements_with_one_sid_merge() {
        let mut plan = Plan::default();
        let target = Target {
            account: "111111111111",
            attach_to: "arn:aws:iam::111111111111:role/proxy",
            kind: PolicyKind::Identity,
            optional: false,
            name: "iamwire-proxy",
            purpose: "the proxy's own permissions",
        };
        plan.add(
            &target,
            Statement::allow("A", ["sts:AssumeRole"], ["arn:r1"]),
            "r1".into(),
        );
        plan.add(
            &target,
            Statement::allow("A", ["sts:TagSession"], ["arn:r2"]),
            "r2".into(),
        );
        let (_, policy) = plan.policies().next().unwrap();
        assert_eq!(policy.statements.len(), 1);
        let (statement, purpose) = &policy.statements[0];
        assert_eq!(statement.actions(), ["sts:AssumeRole", "sts:TagSession"]);
        assert_eq!(statement.resources(), ["arn:r1", "arn:r2"]);
        assert_eq!(purpose, "r1; r2");
    }
}
