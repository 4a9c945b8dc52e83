#[corral::test(flavor = "multi_thread", start_paused = true)]
async fn paused_multi() {}

#[corral::main(start_paused = true)]
async fn main() {}
