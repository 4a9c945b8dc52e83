#[corral::test(flavor = "threaded", workers = 2)]
fn not_async(x: u32) {
    let _ = x;
}

fn main() {}
