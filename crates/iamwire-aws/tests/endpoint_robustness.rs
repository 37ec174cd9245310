//! Arbitrary input never panics the endpoint parser: every prefix, every single-byte change
//! and pseudo-random splices of real endpoint host names, run through the fuzz entry point
//! (which also checks that anything accepted re-parses from its normalised host).

use iamwire_aws::{endpoint, fuzzing};

const SEEDS: &[&str] = &[
    "aurora-instance-1.abcdefghijkl.us-west-1.rds.amazonaws.com:5432",
    "my-custom.endpoint.proxy-abcdefghijkl.rds.cn-north-1.amazonaws.com.cn",
    "my-vpc-endpoint-xxxyyyzzz.123456789012.us-east-1.redshift-serverless.amazonaws.com",
    "my-redis-cluster-ro.xxxxxx.ng.0001.cac1.cache.amazonaws.com",
    "test-es-serverless-xyzw1a.serverless.cnw1.cache.amazonaws.com.cn",
    "my-memorydb-0002-001.my-memorydb.xxxxxx.memorydb.us-east-1.amazonaws.com",
    "https://search-my-domain-abc123.us-gov-west-1.es.amazonaws.com:443/x?y#z",
    "daxcluster-a.abc123.nodes.dax-clusters.us-east-2.amazonaws.com",
    "123456789012.ddb.us-east-2.amazonaws.com.",
];

/// Bytes that matter to the parser, tried at every position.
const INTERESTING: &[u8] = b".:-/0aZ_@[]\x00\xff\xc3";

#[test]
fn every_prefix_and_single_byte_change_is_handled() {
    for seed in SEEDS {
        let bytes = seed.as_bytes();
        for end in 0..=bytes.len() {
            fuzzing::endpoint(&bytes[..end]);
        }
        for at in 0..bytes.len() {
            for &b in INTERESTING {
                let mut mutated = bytes.to_vec();
                mutated[at] = b;
                fuzzing::endpoint(&mutated);
                mutated.insert(at, b);
                fuzzing::endpoint(&mutated);
            }
            let mut removed = bytes.to_vec();
            removed.remove(at);
            fuzzing::endpoint(&removed);
        }
    }
}

#[test]
fn pseudo_random_splices_are_handled() {
    // A fixed xorshift sequence: reproducible, no dependency.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let labels: Vec<&str> = SEEDS
        .iter()
        .flat_map(|s| s.split(['.', ':', '/']))
        .collect();
    for _ in 0..20_000 {
        let count = 1 + (next() % 9) as usize;
        let mut host = String::new();
        for i in 0..count {
            if i > 0 {
                host.push(if next() % 17 == 0 { ':' } else { '.' });
            }
            host.push_str(labels[(next() % labels.len() as u64) as usize]);
        }
        fuzzing::endpoint(host.as_bytes());
    }
}

#[test]
fn extreme_lengths_are_rejected_quickly() {
    for len in [253, 254, 2048, 2049, 1 << 20] {
        let input = "a".repeat(len);
        fuzzing::endpoint(input.as_bytes());
        assert!(endpoint::parse(&input).is_err());
    }
    let many_dots = ".".repeat(1 << 16);
    assert!(endpoint::parse(&many_dots).is_err());
    fuzzing::endpoint(&[0xff; 300]);
}
