#[corral::main]
async fn main(name: String, verbose: bool) {
    println!("{name} {verbose}");
}
