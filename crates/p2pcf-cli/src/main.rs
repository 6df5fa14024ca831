//! `p2pcf`: the command-line front end (`serve`, `join`).
fn main() {}
