//! AWS partitions, region names, and ElastiCache's short region codes.

use std::fmt;

/// The AWS partition an endpoint lives in. Each has its own IAM, STS and ARNs (`arn:<partition>:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Partition {
    /// The standard partition (`aws`): every commercial region outside China.
    Aws,
    /// AWS GovCloud (US) (`aws-us-gov`): the `us-gov-*` regions.
    AwsUsGov,
    /// AWS China (`aws-cn`): the `cn-*` regions, under `amazonaws.com.cn`.
    AwsCn,
}

impl Partition {
    /// The partition of `region`, or `None` if `region` does not look like a region name of
    /// one of the three partitions handled here (`us-east-1`, `us-gov-west-1`, `cn-north-1`).
    ///
    /// Only the shape is checked, so regions launched after this table was written still work.
    pub fn from_region(region: &str) -> Option<Self> {
        let parts: Vec<&str> = region.split('-').collect();
        let (area, middle, number) = match parts.as_slice() {
            [area, direction, number] => (*area, vec![*direction], *number),
            [area, "gov", direction, number] => (*area, vec!["gov", *direction], *number),
            _ => return None,
        };
        let area_ok = area.len() == 2 && area.bytes().all(|b| b.is_ascii_lowercase());
        let middle_ok = middle
            .iter()
            .all(|m| (1..=16).contains(&m.len()) && m.bytes().all(|b| b.is_ascii_lowercase()));
        let number_ok =
            (1..=2).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit());
        if !(area_ok && middle_ok && number_ok) {
            return None;
        }
        match (area, middle.len()) {
            ("cn", 1) => Some(Self::AwsCn),
            ("us", 2) => Some(Self::AwsUsGov),
            (_, 1) => Some(Self::Aws),
            _ => None,
        }
    }

    /// The DNS suffix of service endpoints in this partition, without a leading dot.
    pub fn dns_suffix(self) -> &'static str {
        match self {
            Self::Aws | Self::AwsUsGov => "amazonaws.com",
            Self::AwsCn => "amazonaws.com.cn",
        }
    }

    /// The partition id as used in ARNs: `aws`, `aws-us-gov` or `aws-cn`.
    pub fn id(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::AwsUsGov => "aws-us-gov",
            Self::AwsCn => "aws-cn",
        }
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// ElastiCache host names carry a short region code instead of the region name. Unlike region
/// names these cannot be derived reliably (`cnw1` is `cn-northwest-1`, not a "cn-west-1"), so
/// they come from a table of every region of the three partitions; unknown codes are an error.
const SHORT_REGIONS: &[(&str, &str)] = &[
    ("use1", "us-east-1"),
    ("use2", "us-east-2"),
    ("usw1", "us-west-1"),
    ("usw2", "us-west-2"),
    ("afs1", "af-south-1"),
    ("ape1", "ap-east-1"),
    ("ape2", "ap-east-2"),
    ("aps1", "ap-south-1"),
    ("aps2", "ap-south-2"),
    ("apne1", "ap-northeast-1"),
    ("apne2", "ap-northeast-2"),
    ("apne3", "ap-northeast-3"),
    ("apse1", "ap-southeast-1"),
    ("apse2", "ap-southeast-2"),
    ("apse3", "ap-southeast-3"),
    ("apse4", "ap-southeast-4"),
    ("apse5", "ap-southeast-5"),
    ("apse6", "ap-southeast-6"),
    ("apse7", "ap-southeast-7"),
    ("cac1", "ca-central-1"),
    ("caw1", "ca-west-1"),
    ("euc1", "eu-central-1"),
    ("euc2", "eu-central-2"),
    ("euw1", "eu-west-1"),
    ("euw2", "eu-west-2"),
    ("euw3", "eu-west-3"),
    ("eun1", "eu-north-1"),
    ("eus1", "eu-south-1"),
    ("eus2", "eu-south-2"),
    ("ilc1", "il-central-1"),
    ("mec1", "me-central-1"),
    ("mes1", "me-south-1"),
    ("mxc1", "mx-central-1"),
    ("sae1", "sa-east-1"),
    ("usge1", "us-gov-east-1"),
    ("usgw1", "us-gov-west-1"),
    ("cnn1", "cn-north-1"),
    ("cnw1", "cn-northwest-1"),
];

/// The region name for an ElastiCache short region code (`use1` → `us-east-1`), or `None` if
/// the code is not in the table. Matching is case-insensitive.
pub fn region_from_short_code(code: &str) -> Option<&'static str> {
    SHORT_REGIONS
        .iter()
        .find(|(short, _)| short.eq_ignore_ascii_case(code))
        .map(|(_, region)| *region)
}

/// The ElastiCache short region code for a region name (`us-east-1` → `use1`), or `None` if
/// the region is not in the table.
pub fn short_code_for_region(region: &str) -> Option<&'static str> {
    SHORT_REGIONS
        .iter()
        .find(|(_, full)| full.eq_ignore_ascii_case(region))
        .map(|(short, _)| *short)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_short_code_maps_to_a_region_of_a_known_partition() {
        for (short, region) in SHORT_REGIONS {
            assert!(Partition::from_region(region).is_some(), "{region}");
            assert_eq!(region_from_short_code(short), Some(*region));
            assert_eq!(short_code_for_region(region), Some(*short));
        }
    }

    #[test]
    fn short_codes_and_regions_are_unique() {
        for (i, (short, region)) in SHORT_REGIONS.iter().enumerate() {
            for (other_short, other_region) in &SHORT_REGIONS[i + 1..] {
                assert_ne!(short, other_short);
                assert_ne!(region, other_region);
            }
        }
    }

    #[test]
    fn partition_from_region() {
        let cases: &[(&str, Option<Partition>)] = &[
            ("us-east-1", Some(Partition::Aws)),
            ("ap-southeast-7", Some(Partition::Aws)),
            ("il-central-1", Some(Partition::Aws)),
            ("us-gov-west-1", Some(Partition::AwsUsGov)),
            ("us-gov-east-1", Some(Partition::AwsUsGov)),
            ("cn-north-1", Some(Partition::AwsCn)),
            ("cn-northwest-1", Some(Partition::AwsCn)),
            ("cn-gov-north-1", None),
            ("eu-gov-west-1", None),
            ("us-iso-east-1", None),
            ("us-isob-east-1", None),
            ("us-east", None),
            ("us-east-x", None),
            ("us-east-123", None),
            ("use-east-1", None),
            ("US-EAST-1", None),
            ("", None),
            ("--1", None),
        ];
        for (region, want) in cases {
            assert_eq!(Partition::from_region(region), *want, "{region}");
        }
    }

    #[test]
    fn partition_suffix_and_id() {
        assert_eq!(Partition::Aws.dns_suffix(), "amazonaws.com");
        assert_eq!(Partition::AwsUsGov.dns_suffix(), "amazonaws.com");
        assert_eq!(Partition::AwsCn.dns_suffix(), "amazonaws.com.cn");
        assert_eq!(Partition::AwsUsGov.to_string(), "aws-us-gov");
        assert_eq!(Partition::AwsCn.id(), "aws-cn");
    }

    #[test]
    fn unknown_short_codes() {
        for code in [
            "",
            "use",
            "use0",
            "usw9",
            "xx1",
            "usgw",
            "cnnw1",
            "us-east-1",
        ] {
            assert_eq!(region_from_short_code(code), None, "{code}");
        }
        assert_eq!(region_from_short_code("USE1"), Some("us-east-1"));
    }
}
