//! The `nabla` command-line tool.

fn main() {
    println!("nabla {}", env!("CARGO_PKG_VERSION"));
}
