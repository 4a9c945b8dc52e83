#[corral::main]
struct Server {
    port: u16,
}

fn main() {
    let _ = Server { port: 80 };
}
