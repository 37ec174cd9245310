//! AWS partitions, regions, account ids and IAM role ARNs.

use std::fmt;
use std::str::FromStr;

use crate::error::ArnError;

/// An AWS partition: a group of regions with its own IAM and its own ARN prefix.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Partition {
    /// `aws`: the commercial regions.
    Aws,
    /// `aws-cn`: the China regions (`cn-*`).
    AwsCn,
    /// `aws-us-gov`: AWS GovCloud (US) (`us-gov-*`).
    AwsUsGov,
    /// `aws-iso`: US ISO regions (`us-iso-*`).
    AwsIso,
    /// `aws-iso-b`: US ISOB regions (`us-isob-*`).
    AwsIsoB,
}

impl Partition {
    /// The partition as it appears in ARNs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::AwsCn => "aws-cn",
            Self::AwsUsGov => "aws-us-gov",
            Self::AwsIso => "aws-iso",
            Self::AwsIsoB => "aws-iso-b",
        }
    }

    /// The partition named `s` in an ARN, if iamwire knows it.
    pub fn from_arn_str(s: &str) -> Option<Self> {
        Some(match s {
            "aws" => Self::Aws,
            "aws-cn" => Self::AwsCn,
            "aws-us-gov" => Self::AwsUsGov,
            "aws-iso" => Self::AwsIso,
            "aws-iso-b" => Self::AwsIsoB,
            _ => return None,
        })
    }

    /// The partition `region` belongs to, or `None` if `region` is not a well-formed region name.
    pub fn of_region(region: &str) -> Option<Self> {
        if !is_valid_region(region) {
            return None;
        }
        Some(if region.starts_with("cn-") {
            Self::AwsCn
        } else if region.starts_with("us-gov-") {
            Self::AwsUsGov
        } else if region.starts_with("us-isob-") {
            Self::AwsIsoB
        } else if region.starts_with("us-iso-") {
            Self::AwsIso
        } else {
            Self::Aws
        })
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `region` looks like an AWS region name: `us-west-1`, `us-gov-east-1`, `cn-north-1`.
///
/// Two lowercase letters, one or more lowercase words, then a number, joined by `-`.
pub fn is_valid_region(region: &str) -> bool {
    if region.len() > 32 {
        return false;
    }
    let parts: Vec<&str> = region.split('-').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return false;
    };
    first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !middle.is_empty()
        && middle
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && (1..=2).contains(&last.len())
        && last.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `account_id` is an AWS account id: exactly 12 ASCII digits.
pub fn is_valid_account_id(account_id: &str) -> bool {
    account_id.len() == 12 && account_id.bytes().all(|b| b.is_ascii_digit())
}

/// The ARN of an IAM role: `arn:<partition>:iam::<account>:role<path><name>`.
///
/// Parsing checks IAM's rules for names and paths, so a `RoleArn` is always something STS
/// can be asked to assume. Build one with [`RoleArn::new`] or parse one with [`str::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoleArn {
    partition: Partition,
    account_id: String,
    path: String,
    name: String,
}

const MAX_ARN_LEN: usize = 2048;
const MAX_NAME_LEN: usize = 64;
const MAX_PATH_LEN: usize = 512;

impl RoleArn {
    /// A role ARN from its parts. `path` is `/` for roles without a path, else `/a/b/`.
    ///
    /// # Errors
    ///
    /// An [`ArnError`] saying which part breaks IAM's rules.
    pub fn new(
        partition: Partition,
        account_id: &str,
        path: &str,
        name: &str,
    ) -> Result<Self, ArnError> {
        if !is_valid_account_id(account_id) {
            return Err(ArnError::BadAccountId {
                account_id: account_id.to_owned(),
            });
        }
        check_path(path)?;
        check_name(name)?;
        Ok(Self {
            partition,
            account_id: account_id.to_owned(),
            path: path.to_owned(),
            name: name.to_owned(),
        })
    }

    /// The partition the role lives in.
    pub fn partition(&self) -> Partition {
        self.partition
    }

    /// The 12-digit account the role lives in.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The role's path: `/` or `/a/b/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The role's name (without its path).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl FromStr for RoleArn {
    type Err = ArnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > MAX_ARN_LEN {
            return Err(ArnError::TooLong { len: s.len() });
        }
        let mut parts = s.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(res)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(ArnError::NotAnArn);
        };
        let partition =
            Partition::from_arn_str(partition).ok_or_else(|| ArnError::UnknownPartition {
                partition: partition.to_owned(),
            })?;
        if service == "sts" && res.starts_with("assumed-role/") {
            return Err(ArnError::AssumedRole);
        }
        if service != "iam" {
            return Err(ArnError::NotIam {
                service: service.to_owned(),
            });
        }
        if !region.is_empty() {
            return Err(ArnError::UnexpectedRegion {
                region: region.to_owned(),
            });
        }
        let Some(path_and_name) = res.strip_prefix("role/") else {
            let resource_type = res.split_once('/').map_or(res, |(t, _)| t);
            return Err(ArnError::NotRole {
                resource_type: resource_type.to_owned(),
            });
        };
        let (path, name) = match path_and_name.rsplit_once('/') {
            Some((inner, name)) => (format!("/{inner}/"), name),
            None => ("/".to_owned(), path_and_name),
        };
        Self::new(partition, account, &path, name)
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:iam::{}:role{}{}",
            self.partition, self.account_id, self.path, self.name
        )
    }
}

/// IAM: a role name is 1 to 64 characters of `[\w+=,.@-]`.
fn check_name(name: &str) -> Result<(), ArnError> {
    if name.is_empty() {
        return Err(ArnError::EmptyName);
    }
    if let Some(ch) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c)))
    {
        return Err(ArnError::BadNameChar { ch });
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ArnError::NameTooLong { len: name.len() });
    }
    Ok(())
}

/// IAM: a path is `/`, or `/` + printable ASCII (U+0021..U+007E) + `/`, at most 512 long.
fn check_path(path: &str) -> Result<(), ArnError> {
    let ok = path.len() <= MAX_PATH_LEN
        && path.starts_with('/')
        && path.ends_with('/')
        && path.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if ok { Ok(()) } else { Err(ArnError::BadPath) }
}

#[cfg(test)]
mod tests;
