#[corral::test(worker_threads = 2)]
async fn needs_the_multi_thread_flavor() {}

fn main() {}
