#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| iamwire_core::fuzzing::resource_yaml(data));
