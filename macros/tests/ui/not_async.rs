#[corral::main]
fn main() {}
