//! Builds the one piece of the plugin interface Rust cannot express: a variadic callback.

fn main() {
    println!("cargo:rerun-if-changed=src/plugin/message.c");
    cc::Build::new()
        .file("src/plugin/message.c")
        .warnings(true)
        .compile("tether_plugin_message");
}
