#[corral::test(start_paused = true)]
async fn uses_the_paused_clock() {}

fn main() {}
