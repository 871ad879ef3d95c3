//! The `tether` command line: one module per subcommand.

pub mod check;
pub mod fuzz;
pub mod run;
