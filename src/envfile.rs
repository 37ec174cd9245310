//! Environment files in the style of `/etc/default/teleport`: `KEY=value` lines read before the AWS
//! credential chain is built, so an operator can keep AWS settings beside the proxy's config.

use std::collections::BTreeMap;
use std::path::Path;

/// Parse an env file: `KEY=value` per line, optional `export ` prefix, `#` comments, blank lines, and values
/// in single quotes (literal) or double quotes (with `\"`, `\\`, `\n` escapes). Errors name the line.
pub(crate) fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export ")
            .map(str::trim_start)
            .unwrap_or(line);
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected KEY=value", index + 1))?;
        let key = key.trim();
        let valid = !key.is_empty()
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !key.as_bytes()[0].is_ascii_digit();
        if !valid {
            return Err(format!(
                "line {}: {key:?} is not a variable name",
                index + 1
            ));
        }
        let value = unquote(value.trim())
            .ok_or_else(|| format!("line {}: unterminated quote", index + 1))?;
        out.push((key.to_string(), value));
    }
    Ok(out)
}

fn unquote(value: &str) -> Option<String> {
    if let Some(rest) = value.strip_prefix('\'') {
        return rest.strip_suffix('\'').map(str::to_owned);
    }
    let Some(rest) = value.strip_prefix('"') else {
        // Unquoted: a trailing ` # comment` is not part of the value.
        return Some(
            value
                .split(" #")
                .next()
                .unwrap_or(value)
                .trim_end()
                .to_string(),
        );
    };
    let inner = rest.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// The process environment overlaid with `file`'s variables (the file wins, like systemd's EnvironmentFile
/// applied to a unit). A missing file is an error only when `required`.
pub(crate) fn environment(
    file: Option<&Path>,
    required: bool,
) -> Result<BTreeMap<String, String>, String> {
    let mut env: BTreeMap<String, String> = std::env::vars().collect();
    if let Some(path) = file {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let vars = parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                env.extend(vars);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {}
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parses_the_usual_shapes() {
        let text = "# AWS settings\n\nAWS_REGION=us-west-2\nexport AWS_PROFILE=prod # comment\n\
                    AWS_ROLE_ARN='arn:aws:iam::1:role/x y'\nQUOTED=\"a \\\"b\\\" c\"\nEMPTY=\n";
        let vars = parse(text).unwrap();
        assert_eq!(
            vars,
            vec![
                ("AWS_REGION".into(), "us-west-2".into()),
                ("AWS_PROFILE".into(), "prod".into()),
                ("AWS_ROLE_ARN".into(), "arn:aws:iam::1:role/x y".into()),
                ("QUOTED".into(), "a \"b\" c".into()),
                ("EMPTY".into(), String::new()),
            ]
        );
    }

    #[test]
    fn rejects_what_a_shell_would_not_accept() {
        assert!(parse("NOEQUALS\n").unwrap_err().contains("line 1"));
        assert!(parse("OK=1\n1BAD=2\n").unwrap_err().contains("line 2"));
        assert!(parse("A='open\n").unwrap_err().contains("unterminated"));
        assert!(parse("A B=1\n").is_err());
    }
}
