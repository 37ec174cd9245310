#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| iamwire_mongodb::fuzzing::client_messages(data));
