//! The plan as JSON (IAM documents beside each statement's purpose) or as Terraform
//! `aws_iam_policy_document` data sources — both written from the typed statements.

use std::fmt::Write as _;

use serde::Serialize;

use super::document::{PolicyDocument, Statement};
use super::plan::{Plan, Policy, PolicyKind};

#[derive(Serialize)]
struct JsonPlan<'a> {
    accounts: Vec<JsonAccount<'a>>,
    notes: Vec<&'a str>,
}

#[derive(Serialize)]
struct JsonAccount<'a> {
    account: &'a str,
    policies: Vec<JsonPolicy<'a>>,
}

#[derive(Serialize)]
struct JsonPolicy<'a> {
    name: &'a str,
    kind: PolicyKind,
    attach_to: &'a str,
    purpose: &'a str,
    optional: bool,
    statements: Vec<JsonPurpose<'a>>,
    document: PolicyDocument,
}

#[derive(Serialize)]
struct JsonPurpose<'a> {
    sid: &'a str,
    purpose: &'a str,
}

/// The plan as pretty JSON.
pub(crate) fn json(plan: &Plan) -> String {
    let accounts = plan
        .accounts
        .iter()
        .map(|(account, policies)| JsonAccount {
            account,
            policies: policies
                .values()
                .map(|p| JsonPolicy {
                    name: &p.name,
                    kind: p.kind,
                    attach_to: &p.attach_to,
                    purpose: &p.purpose,
                    optional: p.optional,
                    statements: p
                        .statements
                        .iter()
                        .map(|(s, purpose)| JsonPurpose {
                            sid: &s.sid,
                            purpose,
                        })
                        .collect(),
                    document: p.document(),
                })
                .collect(),
        })
        .collect();
    let out = JsonPlan {
        accounts,
        notes: plan.notes.iter().map(String::as_str).collect(),
    };
    let mut text = serde_json::to_string_pretty(&out).unwrap_or_default();
    text.push('\n');
    text
}

/// The plan as Terraform: one `aws_iam_policy_document` data source per policy, purposes as comments.
pub(crate) fn terraform(plan: &Plan) -> String {
    let mut out = String::from(
        "# IAM policies for iamwire, from `iamwire iam-policy --format terraform`.\n\
         # Attach each document where its comment says (aws_iam_role_policy, aws_iam_user_policy, or the\n\
         # role's assume_role_policy for trust policies).\n",
    );
    for note in &plan.notes {
        let _ = writeln!(out, "# note: {note}");
    }
    for (account, policy) in plan.policies() {
        policy_block(&mut out, account, policy);
    }
    out
}

fn policy_block(out: &mut String, account: &str, policy: &Policy) {
    let kind = match policy.kind {
        PolicyKind::Identity => "permission policy",
        PolicyKind::Trust => "trust policy",
    };
    let _ = writeln!(
        out,
        "\n# Account {account}: {kind} of {}{} — {}",
        policy.attach_to,
        if policy.optional { " (optional)" } else { "" },
        policy.purpose
    );
    let _ = writeln!(
        out,
        "data \"aws_iam_policy_document\" \"{}\" {{",
        identifier(&format!("a{account}_{}_{}", policy.name, kind))
    );
    for (statement, purpose) in &policy.statements {
        let _ = writeln!(out, "  # {}: {purpose}", statement.sid);
        statement_block(out, statement);
    }
    out.push_str("}\n");
}

fn statement_block(out: &mut String, s: &Statement) {
    let _ = writeln!(out, "  statement {{");
    let _ = writeln!(out, "    sid       = {}", hcl_string(&s.sid));
    let _ = writeln!(out, "    effect    = {}", hcl_string(s.effect));
    let _ = writeln!(out, "    actions   = {}", hcl_list(s.actions()));
    if s.resource.is_some() {
        let _ = writeln!(out, "    resources = {}", hcl_list(s.resources()));
    }
    if let Some(principal) = &s.principal {
        let _ = writeln!(out, "    principals {{");
        let _ = writeln!(out, "      type        = \"AWS\"");
        let _ = writeln!(out, "      identifiers = {}", hcl_list(&principal.aws.0));
        let _ = writeln!(out, "    }}");
    }
    for (operator, keys) in &s.condition {
        for (key, values) in keys {
            let _ = writeln!(out, "    condition {{");
            let _ = writeln!(out, "      test     = {}", hcl_string(operator));
            let _ = writeln!(out, "      variable = {}", hcl_string(key));
            let _ = writeln!(out, "      values   = {}", hcl_list(&values.0));
            let _ = writeln!(out, "    }}");
        }
    }
    let _ = writeln!(out, "  }}");
}

/// A Terraform identifier: lowercase letters, digits and `_`.
fn identifier(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// An HCL string literal (interpolation and directives escaped).
fn hcl_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn hcl_list(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| hcl_string(v)).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_strings_escape_interpolation() {
        assert_eq!(hcl_string("a\"b${x}%{y}\\"), r#""a\"b$${x}%%{y}\\""#);
        assert_eq!(identifier("a1234_db-access.Role"), "a1234_db_access_role");
    }
}
