//! The first statement of a `COM_QUERY`, as far as the proxy must know it: `KILL` (whose id is the
//! proxy's and must be mapped) and `USE` (which opens a database). Leading whitespace and comments
//! are skipped as the server skips them, executable comments (`/*!50000 KILL 5 */`) included.

/// What a statement starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    /// `KILL [HARD|SOFT] [CONNECTION|QUERY] <id>`, alone.
    Kill {
        /// `KILL QUERY`: stop the statement, keep the connection.
        query: bool,
        /// The connection id, as the client knows it (the proxy's).
        id: u64,
    },
    /// A `KILL` the proxy cannot map: by user, by query id, an expression, more statements after it.
    KillOther,
    /// `USE <database>`, possibly followed by more statements.
    Use {
        /// The database.
        database: String,
    },
    /// A `USE` whose database name the proxy cannot read.
    UseOther,
    /// Anything else.
    Other,
    /// The text ends inside a comment before the first word: only more of it can tell.
    Undecided,
}

impl Statement {
    /// Whether the whole statement is needed to decide (a `KILL` or `USE` seen in a prefix).
    pub fn needs_whole(&self) -> bool {
        !matches!(self, Self::Other | Self::Undecided)
    }
}

/// Classify the statement `sql` starts with.
pub fn classify(sql: &[u8]) -> Statement {
    let mut lx = Lexer { s: sql, i: 0 };
    if !lx.skip() {
        return Statement::Undecided;
    }
    let word = lx.word();
    if word.eq_ignore_ascii_case(b"KILL") {
        kill(&mut lx)
    } else if word.eq_ignore_ascii_case(b"USE") {
        use_database(&mut lx)
    } else {
        Statement::Other
    }
}

fn kill(lx: &mut Lexer<'_>) -> Statement {
    let mut query = false;
    let mut word = lx.next_word();
    if word.eq_ignore_ascii_case(b"HARD") || word.eq_ignore_ascii_case(b"SOFT") {
        word = lx.next_word();
    }
    if word.eq_ignore_ascii_case(b"CONNECTION") {
        word = lx.next_word();
    } else if word.eq_ignore_ascii_case(b"QUERY") {
        query = true;
        word = lx.next_word();
    }
    let id = match std::str::from_utf8(word)
        .ok()
        .filter(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()))
    {
        Some(digits) => digits.parse::<u64>().ok(),
        None => None,
    };
    let Some(id) = id else {
        return Statement::KillOther;
    };
    if !lx.skip() {
        return Statement::KillOther;
    }
    if lx.s.get(lx.i) == Some(&b';') {
        lx.i += 1;
        if !lx.skip() {
            return Statement::KillOther;
        }
    }
    if lx.i == lx.s.len() {
        Statement::Kill { query, id }
    } else {
        Statement::KillOther
    }
}

fn use_database(lx: &mut Lexer<'_>) -> Statement {
    if !lx.skip() {
        return Statement::UseOther;
    }
    let name = match lx.s.get(lx.i) {
        Some(&q @ (b'`' | b'"')) => lx.quoted(q),
        _ => Some(lx.word().to_vec()),
    };
    match name
        .filter(|n| !n.is_empty())
        .and_then(|n| String::from_utf8(n).ok())
    {
        Some(database) => Statement::Use { database },
        None => Statement::UseOther,
    }
}

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

impl<'a> Lexer<'a> {
    /// Skip whitespace and comments; `false` if the text ends inside a comment.
    fn skip(&mut self) -> bool {
        loop {
            let rest = &self.s[self.i..];
            match rest {
                [b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c, ..] => self.i += 1,
                // The end of an executable comment whose content is being read.
                [b'*', b'/', ..] => self.i += 2,
                [b'/', b'*', b'!', ..] => self.i += 3 + digits(&rest[3..]),
                [b'/', b'*', b'M', b'!', ..] => self.i += 4 + digits(&rest[4..]),
                [b'/', b'*', ..] => match find(&rest[2..], b"*/") {
                    Some(end) => self.i += 2 + end + 2,
                    None => return false,
                },
                [b'#', ..] => self.line_comment(),
                [b'-', b'-', c, ..] if *c <= b' ' => self.line_comment(),
                [b'-', b'-'] => return true,
                _ => return true,
            }
        }
    }

    fn line_comment(&mut self) {
        let rest = &self.s[self.i..];
        self.i += rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
    }

    fn word(&mut self) -> &'a [u8] {
        let start = self.i;
        while self.s.get(self.i).is_some_and(|b| is_word(*b)) {
            self.i += 1;
        }
        &self.s[start..self.i]
    }

    fn next_word(&mut self) -> &'a [u8] {
        if self.skip() { self.word() } else { &[] }
    }

    /// A quoted identifier (the quote doubled inside stands for itself); `None` if unterminated.
    fn quoted(&mut self, quote: u8) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.i += 1;
        loop {
            let b = *self.s.get(self.i)?;
            self.i += 1;
            if b == quote {
                if self.s.get(self.i) == Some(&quote) {
                    self.i += 1;
                } else {
                    return Some(out);
                }
            }
            out.push(b);
        }
    }
}

fn digits(s: &[u8]) -> usize {
    s.iter().take_while(|b| b.is_ascii_digit()).count()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kill(query: bool, id: u64) -> Statement {
        Statement::Kill { query, id }
    }

    #[test]
    fn kill_forms() {
        for (sql, want) in [
            ("KILL 5", kill(false, 5)),
            ("kill query 12;", kill(true, 12)),
            ("  KILL CONNECTION 7 ; ", kill(false, 7)),
            ("/* x */ KILL /* y */ QUERY\n9 -- done", kill(true, 9)),
            ("/*!50000 KILL QUERY 3 */", kill(true, 3)),
            ("KILL HARD QUERY 4", kill(true, 4)),
            ("# hi\nKILL 1", kill(false, 1)),
            ("KILL QUERY ID 4", Statement::KillOther),
            ("KILL USER app", Statement::KillOther),
            ("KILL @id", Statement::KillOther),
            ("KILL 1+1", Statement::KillOther),
            ("KILL 5; SELECT 1", Statement::KillOther),
            ("KILL 0x10", Statement::KillOther),
            ("KILL 99999999999999999999999", Statement::KillOther),
            ("KILL", Statement::KillOther),
            ("KILLX 5", Statement::Other),
            ("SELECT 'KILL 5'", Statement::Other),
            ("/* unterminated", Statement::Undecided),
        ] {
            assert_eq!(classify(sql.as_bytes()), want, "{sql}");
        }
    }

    #[test]
    fn use_forms() {
        let db = |name: &str| Statement::Use {
            database: name.into(),
        };
        for (sql, want) in [
            ("USE app", db("app")),
            ("use `my db`", db("my db")),
            ("USE `a``b`;", db("a`b")),
            ("USE\"x\"", db("x")),
            ("/*!40101 USE other */", db("other")),
            ("USE other; SELECT 1", db("other")),
            ("USE `open", Statement::UseOther),
            ("USE ;", Statement::UseOther),
            ("USER()", Statement::Other),
            ("SELECT 1", Statement::Other),
            ("", Statement::Other),
        ] {
            assert_eq!(classify(sql.as_bytes()), want, "{sql}");
        }
    }
}
