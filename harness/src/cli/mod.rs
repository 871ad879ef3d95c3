//! The `tether` command line: one module per subcommand (`run` here; `check` and `fuzz` can
//! join as siblings).

pub mod run;
