//! The `iamwire` demo proxy.
fn main() {}
