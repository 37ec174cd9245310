//! IAM policy documents as typed values, serialised with serde exactly as IAM reads them.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

/// The policy language version every document uses.
pub(crate) const VERSION: &str = "2012-10-17";

/// An IAM policy document (identity or trust policy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PolicyDocument {
    pub(crate) version: &'static str,
    pub(crate) statement: Vec<Statement>,
}

impl PolicyDocument {
    pub(crate) fn new(statement: Vec<Statement>) -> Self {
        Self {
            version: VERSION,
            statement,
        }
    }
}

/// One statement; always `Allow` (iamwire only ever asks for what it uses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Statement {
    pub(crate) sid: String,
    pub(crate) effect: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) principal: Option<Principal>,
    pub(crate) action: OneOrMany,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) resource: Option<OneOrMany>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) condition: BTreeMap<&'static str, BTreeMap<&'static str, OneOrMany>>,
}

impl Statement {
    /// `Allow` `actions` on `resources`.
    pub(crate) fn allow(
        sid: impl Into<String>,
        actions: impl IntoIterator<Item = impl Into<String>>,
        resources: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            sid: sid.into(),
            effect: "Allow",
            principal: None,
            action: OneOrMany::from_iter(actions),
            resource: Some(OneOrMany::from_iter(resources)),
            condition: BTreeMap::new(),
        }
    }

    /// `Allow` the AWS principals to call `actions` (a trust policy statement).
    pub(crate) fn trust(
        sid: impl Into<String>,
        principals: impl IntoIterator<Item = impl Into<String>>,
        actions: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            sid: sid.into(),
            effect: "Allow",
            principal: Some(Principal {
                aws: OneOrMany::from_iter(principals),
            }),
            action: OneOrMany::from_iter(actions),
            resource: None,
            condition: BTreeMap::new(),
        }
    }

    /// Add a condition `operator: {key: values}`.
    pub(crate) fn when(
        mut self,
        operator: &'static str,
        key: &'static str,
        values: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.condition
            .entry(operator)
            .or_default()
            .insert(key, OneOrMany::from_iter(values));
        self
    }

    /// The actions.
    pub(crate) fn actions(&self) -> &[String] {
        &self.action.0
    }

    /// The resources (empty for a trust statement).
    pub(crate) fn resources(&self) -> &[String] {
        self.resource.as_ref().map_or(&[], |r| &r.0)
    }
}

/// `{"AWS": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Principal {
    #[serde(rename = "AWS")]
    pub(crate) aws: OneOrMany,
}

/// A value IAM takes as a string or a list of strings: written as a string when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct OneOrMany(pub(crate) Vec<String>);

impl<S: Into<String>> FromIterator<S> for OneOrMany {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut values: Vec<String> = iter.into_iter().map(Into::into).collect();
        values.sort();
        values.dedup();
        Self(values)
    }
}

impl Serialize for OneOrMany {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => serializer.serialize_str(one),
            many => many.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_serialise_as_iam_reads_them() {
        let doc = PolicyDocument::new(vec![
            Statement::allow("Connect", ["rds-db:connect"], ["arn:b", "arn:a", "arn:a"]),
            Statement::trust(
                "Trust",
                ["arn:aws:iam::111111111111:root"],
                ["sts:AssumeRole"],
            )
            .when("StringEquals", "sts:ExternalId", ["ext"]),
        ]);
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [
                    {"Sid": "Connect", "Effect": "Allow", "Action": "rds-db:connect",
                     "Resource": ["arn:a", "arn:b"]},
                    {"Sid": "Trust", "Effect": "Allow",
                     "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                     "Action": "sts:AssumeRole",
                     "Condition": {"StringEquals": {"sts:ExternalId": "ext"}}}
                ]
            })
        );
    }
}
