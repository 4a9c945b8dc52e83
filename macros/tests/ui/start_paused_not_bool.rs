#[corral::test(start_paused = "yes")]
async fn paused_clock() {}

fn main() {}
