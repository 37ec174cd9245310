//! The fields of ErrorResponse and NoticeResponse.

use std::fmt;

use bytes::{BufMut, BytesMut};

use super::wire::{Body, put_cstr};
use super::{CodecError, Limits};

/// How serious an error or notice is (field `V`, and the English form of field `S`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// `ERROR`: the current command failed.
    Error,
    /// `FATAL`: the session ends; what the proxy sends before closing a client connection.
    Fatal,
    /// `PANIC`: every session of the server ends.
    Panic,
    /// `WARNING` (notices only).
    Warning,
    /// `NOTICE` (notices only).
    Notice,
    /// `DEBUG` (notices only).
    Debug,
    /// `INFO` (notices only).
    Info,
    /// `LOG` (notices only).
    Log,
}

impl Severity {
    /// The severity as PostgreSQL spells it in field `V`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "ERROR",
            Self::Fatal => "FATAL",
            Self::Panic => "PANIC",
            Self::Warning => "WARNING",
            Self::Notice => "NOTICE",
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Log => "LOG",
        }
    }

    /// Parses the English form of a severity.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ERROR" => Self::Error,
            "FATAL" => Self::Fatal,
            "PANIC" => Self::Panic,
            "WARNING" => Self::Warning,
            "NOTICE" => Self::Notice,
            "DEBUG" => Self::Debug,
            "INFO" => Self::Info,
            "LOG" => Self::Log,
            _ => return None,
        })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fields of an ErrorResponse or NoticeResponse ("Error and Notice Message Fields" in the
/// PostgreSQL docs). Severity, code and message are always present; the rest are optional.
/// Numbers (positions, line) stay strings, exactly as sent.
///
/// Build one with [`ErrorFields::new`] and the chained setters:
///
/// ```
/// use iamwire_postgres::codec::{ErrorFields, Severity, sqlstate};
///
/// let fields = ErrorFields::new(Severity::Fatal, sqlstate::INVALID_PASSWORD, "login refused")
///     .hint("ask an administrator to grant you this database user");
/// assert_eq!(fields.severity_nonlocalized.as_deref(), Some("FATAL"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFields {
    /// `S`: severity, possibly localized.
    pub severity: String,
    /// `V`: severity, never localized (PostgreSQL 9.6 and later).
    pub severity_nonlocalized: Option<String>,
    /// `C`: the SQLSTATE code (see [`sqlstate`](super::sqlstate)).
    pub code: String,
    /// `M`: the primary human-readable message.
    pub message: String,
    /// `D`: more detail.
    pub detail: Option<String>,
    /// `H`: advice on what to do.
    pub hint: Option<String>,
    /// `P`: 1-based character position in the query string.
    pub position: Option<String>,
    /// `p`: position in an internally generated command.
    pub internal_position: Option<String>,
    /// `q`: the internally generated command.
    pub internal_query: Option<String>,
    /// `W`: where the error happened (call stack).
    pub context: Option<String>,
    /// `s`: schema name.
    pub schema: Option<String>,
    /// `t`: table name.
    pub table: Option<String>,
    /// `c`: column name.
    pub column: Option<String>,
    /// `d`: data type name.
    pub data_type: Option<String>,
    /// `n`: constraint name.
    pub constraint: Option<String>,
    /// `F`: source file of the server.
    pub file: Option<String>,
    /// `L`: source line of the server.
    pub line: Option<String>,
    /// `R`: source routine of the server.
    pub routine: Option<String>,
    /// Fields of types this list does not know, in the order received (kept for relaying).
    /// A type byte may not be 0, a known type, or appear twice.
    pub unknown: Vec<(u8, String)>,
}

/// Optional field types, in the order PostgreSQL sends them (after `S`, `V`, `C`, `M`).
const OPTIONAL: &[u8] = b"DHPpqWstcdnFLR";

macro_rules! setters {
    ($($field:ident),* $(,)?) => {$(
        #[doc = concat!("Sets [`ErrorFields::", stringify!($field), "`].")]
        #[must_use]
        pub fn $field(mut self, value: impl Into<String>) -> Self {
            self.$field = Some(value.into());
            self
        }
    )*};
}

impl ErrorFields {
    /// Fields with severity `S` and `V` set to `severity`, SQLSTATE `code` and `message`.
    pub fn new(severity: Severity, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::with_severity(severity.as_str(), code, message)
            .severity_nonlocalized(severity.as_str())
    }

    /// Fields with only `S` (as given, e.g. localized), `C` and `M` set.
    pub fn with_severity(
        severity: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: severity.into(),
            severity_nonlocalized: None,
            code: code.into(),
            message: message.into(),
            detail: None,
            hint: None,
            position: None,
            internal_position: None,
            internal_query: None,
            context: None,
            schema: None,
            table: None,
            column: None,
            data_type: None,
            constraint: None,
            file: None,
            line: None,
            routine: None,
            unknown: Vec::new(),
        }
    }

    setters!(
        severity_nonlocalized,
        detail,
        hint,
        position,
        internal_position,
        internal_query,
        context,
        schema,
        table,
        column,
        data_type,
        constraint,
        file,
        line,
        routine,
    );

    /// The severity, from `V` if present, else from `S` when it is in English.
    #[must_use]
    pub fn severity_kind(&self) -> Option<Severity> {
        match &self.severity_nonlocalized {
            Some(v) => Severity::parse(v),
            None => Severity::parse(&self.severity),
        }
    }

    fn optional(&self, field: u8) -> Option<&Option<String>> {
        let slot = match field {
            b'V' => &self.severity_nonlocalized,
            b'D' => &self.detail,
            b'H' => &self.hint,
            b'P' => &self.position,
            b'p' => &self.internal_position,
            b'q' => &self.internal_query,
            b'W' => &self.context,
            b's' => &self.schema,
            b't' => &self.table,
            b'c' => &self.column,
            b'd' => &self.data_type,
            b'n' => &self.constraint,
            b'F' => &self.file,
            b'L' => &self.line,
            b'R' => &self.routine,
            _ => return None,
        };
        Some(slot)
    }

    fn optional_mut(&mut self, field: u8) -> Option<&mut Option<String>> {
        let slot = match field {
            b'V' => &mut self.severity_nonlocalized,
            b'D' => &mut self.detail,
            b'H' => &mut self.hint,
            b'P' => &mut self.position,
            b'p' => &mut self.internal_position,
            b'q' => &mut self.internal_query,
            b'W' => &mut self.context,
            b's' => &mut self.schema,
            b't' => &mut self.table,
            b'c' => &mut self.column,
            b'd' => &mut self.data_type,
            b'n' => &mut self.constraint,
            b'F' => &mut self.file,
            b'L' => &mut self.line,
            b'R' => &mut self.routine,
            _ => return None,
        };
        Some(slot)
    }

    /// Whether `field` is a type this struct has a named field for.
    fn is_known(field: u8) -> bool {
        matches!(field, b'S' | b'V' | b'C' | b'M') || OPTIONAL.contains(&field)
    }

    /// Decodes the fields of an ErrorResponse or NoticeResponse called `body.message()`, up to
    /// and including the terminating NUL.
    ///
    /// Text is decoded as UTF-8 with invalid sequences replaced: a server whose messages are
    /// in another encoding must still be able to report an error.
    pub(crate) fn decode(body: &mut Body, limits: &Limits) -> Result<Self, CodecError> {
        let message = body.message();
        let duplicate = |field| CodecError::DuplicateErrorField { message, field };
        let mut fields = Self::with_severity(String::new(), String::new(), String::new());
        let mut required: [bool; 3] = [false; 3];
        let mut count = 0usize;
        loop {
            let field = body.u8("field type")?;
            if field == 0 {
                break;
            }
            count += 1;
            if count > limits.max_error_fields {
                return Err(CodecError::TooManyItems {
                    message,
                    what: "fields",
                    max: limits.max_error_fields,
                });
            }
            let value = body.cstr_lossy("field value")?;
            let (index, target) = match field {
                b'S' => (0, &mut fields.severity),
                b'C' => (1, &mut fields.code),
                b'M' => (2, &mut fields.message),
                _ => {
                    if let Some(slot) = fields.optional_mut(field) {
                        if slot.replace(value).is_some() {
                            return Err(duplicate(field));
                        }
                    } else if fields.unknown.iter().any(|(f, _)| *f == field) {
                        return Err(duplicate(field));
                    } else {
                        fields.unknown.push((field, value));
                    }
                    continue;
                }
            };
            if std::mem::replace(&mut required[index], true) {
                return Err(duplicate(field));
            }
            *target = value;
        }
        for (present, field) in required.into_iter().zip(*b"SCM") {
            if !present {
                return Err(CodecError::MissingErrorField { message, field });
            }
        }
        Ok(fields)
    }

    /// Appends the fields and the terminating NUL to `buf`.
    pub(crate) fn encode(
        &self,
        buf: &mut BytesMut,
        message: &'static str,
    ) -> Result<(), CodecError> {
        let mut put = |field: u8, value: &str| {
            buf.put_u8(field);
            put_cstr(buf, value.as_bytes(), message, "field value")
        };
        put(b'S', &self.severity)?;
        if let Some(v) = &self.severity_nonlocalized {
            put(b'V', v)?;
        }
        put(b'C', &self.code)?;
        put(b'M', &self.message)?;
        for &field in OPTIONAL {
            if let Some(Some(value)) = self.optional(field) {
                put(field, value)?;
            }
        }
        for (i, (field, value)) in self.unknown.iter().enumerate() {
            let field = *field;
            if field == 0 || Self::is_known(field) {
                return Err(CodecError::InvalidValue {
                    message,
                    field: "unknown field type",
                    value: i64::from(field),
                });
            }
            if self.unknown[..i].iter().any(|(f, _)| *f == field) {
                return Err(CodecError::DuplicateErrorField { message, field });
            }
            put(field, value)?;
        }
        buf.put_u8(0);
        Ok(())
    }
}
