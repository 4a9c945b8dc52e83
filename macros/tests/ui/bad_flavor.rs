#[corral::main(flavor = "multi-thread")]
async fn main() {}
