#[corral::test(threads = 2)]
async fn asks_for_threads_the_wrong_way() {}

fn main() {}
