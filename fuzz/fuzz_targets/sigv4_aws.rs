#![no_main]

#[path = "../checks.rs"]
mod checks;
#[path = "../differential.rs"]
mod differential;

libfuzzer_sys::fuzz_target!(|data: &[u8]| differential::sigv4_aws(data));
