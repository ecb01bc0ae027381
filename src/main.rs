//! sopbot command-line entry point.
fn main() {}
