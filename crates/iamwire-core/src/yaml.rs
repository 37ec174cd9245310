//! YAML reading with limits, so that hostile input cannot exhaust memory or the stack.

use serde::de::DeserializeOwned;
use serde_saphyr::{DefaultMessageFormatter, ExternalMessageSource, MessageFormatter};

use crate::error::{Error, Location};

/// Caps applied to every YAML document iamwire reads.
///
/// The defaults fit any realistic database configuration with a wide margin.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YamlLimits {
    /// Largest accepted input, in bytes; checked before parsing starts.
    pub max_bytes: usize,
    /// Deepest nesting of mappings and sequences.
    pub max_depth: usize,
    /// Most YAML nodes (scalars, mappings, sequences) in the document.
    pub max_nodes: usize,
    /// Most alias references (`*name`).
    pub max_aliases: usize,
    /// Most parser events replayed through aliases in total (the alias-bomb guard).
    pub max_alias_replay_events: usize,
}

impl Default for YamlLimits {
    fn default() -> Self {
        Self {
            max_bytes: 1024 * 1024,
            max_depth: 32,
            max_nodes: 100_000,
            max_aliases: 1_000,
            max_alias_replay_events: 10_000,
        }
    }
}

/// Deserializes one YAML document into `T` within `limits`.
///
/// This is the building block for configuration types of other crates (e.g. a top-level
/// struct that embeds [`DbService`](crate::DbService) next to its own sections).
///
/// # Errors
///
/// [`Error::InputTooLarge`], [`Error::LimitExceeded`], [`Error::UnknownField`] or
/// [`Error::Yaml`].
pub fn parse_yaml<T: DeserializeOwned>(yaml: &[u8], limits: &YamlLimits) -> Result<T, Error> {
    if yaml.len() > limits.max_bytes {
        return Err(Error::InputTooLarge {
            len: yaml.len(),
            max: limits.max_bytes,
        });
    }
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_reader_input_bytes: Some(limits.max_bytes),
            max_depth: limits.max_depth,
            flow_nesting_limit: limits.max_depth,
            max_nodes: limits.max_nodes,
            max_events: limits.max_nodes.saturating_mul(4),
            max_aliases: limits.max_aliases,
            max_anchors: limits.max_aliases,
            max_documents: 1,
            max_total_scalar_bytes: limits.max_bytes,
            max_recorded_anchor_events: limits.max_alias_replay_events,
            max_recorded_anchor_bytes: limits.max_bytes,
            max_merge_keys: limits.max_aliases,
            max_inclusion_depth: 0,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: limits.max_alias_replay_events,
            max_replay_stack_depth: limits.max_depth,
        },
    };
    serde_saphyr::from_slice_with_options(yaml, options).map_err(|e| from_saphyr(&e))
}

/// Maps a serde-saphyr error onto ours, keeping the structure callers match on.
fn from_saphyr(err: &serde_saphyr::Error) -> Error {
    use serde_saphyr::Error as E;
    let mut err = err;
    // Wrappers that only add a snippet of the input (which may hold a secret) or alias context.
    while let E::WithSnippet { error, .. } | E::AliasError { error, .. } = err {
        err = error;
    }
    let location = err.location().and_then(|l| {
        (l.line() > 0).then(|| Location {
            line: l.line(),
            column: l.column(),
        })
    });
    let message = DefaultMessageFormatter.format_message(err).into_owned();
    match err {
        E::SerdeUnknownField {
            field, expected, ..
        } => Error::UnknownField {
            field: field.clone(),
            location,
            expected: expected.iter().map(|key| (*key).to_owned()).collect(),
        },
        E::Budget { .. }
        | E::AliasReplayCounterOverflow { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. } => Error::LimitExceeded { message },
        E::ExternalMessage { source, .. } if is_parser_limit(source) => {
            Error::LimitExceeded { message }
        }
        _ => Error::Yaml { message, location },
    }
}

/// Whether the parser itself stopped at one of its limits (e.g. flow nesting depth).
fn is_parser_limit(source: &ExternalMessageSource) -> bool {
    use serde_saphyr::granit_parser::ErrorKind;
    match source {
        ExternalMessageSource::Parser(scan) => matches!(
            scan.kind(),
            ErrorKind::RecursionLimitExceeded
                | ErrorKind::InputByteLimitExceeded { .. }
                | ErrorKind::DirectiveByteLimitExceeded { .. }
        ),
        _ => false,
    }
}
