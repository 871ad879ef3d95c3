fn main() {
    eprintln!("ld.tether: not yet implemented");
    std::process::exit(1);
}
