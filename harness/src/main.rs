fn main() {
    eprintln!("tether: not yet implemented");
    std::process::exit(1);
}
