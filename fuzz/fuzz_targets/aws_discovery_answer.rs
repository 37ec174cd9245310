#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| iamwire_aws::fuzzing::discovery_answer(data));
