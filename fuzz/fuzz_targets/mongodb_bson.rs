#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| iamwire_mongodb::fuzzing::bson(data));
