// The corpus is embedded with include_dir!, which cannot tell cargo about files added later:
// rebuild whenever anything under scenarios/ changes.
fn main() {
    println!("cargo:rerun-if-changed=scenarios");
}
