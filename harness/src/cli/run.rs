//! `tether run LIB.so [--lib DEP.so]… [-L DIR]… [--call SYMBOL [ARG]…] [--bind-now] [--trace] [--json]
//! [--gdb HOST:PORT [--break-on-bind SYMBOL]… [--break-on-init]]`

use crate::{elf, HarnessError, Options, Session};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The shared library to load, or a program (run from its entry point unless --call is given).
    pub lib: PathBuf,
    /// A library that may satisfy DT_NEEDED entries (by SONAME or file name).
    #[arg(long = "lib", value_name = "DEP.so")]
    pub libs: Vec<PathBuf>,
    /// A directory searched for DT_NEEDED entries.
    #[arg(short = 'L', value_name = "DIR")]
    pub search_dirs: Vec<PathBuf>,
    /// After init, call SYMBOL with integer arguments (decimal or 0x hex) and print its result.
    #[arg(long, num_args = 1.., value_name = "SYMBOL [ARG]", allow_negative_numbers = true)]
    pub call: Option<Vec<String>>,
    /// Bind every PLT slot at load time.
    #[arg(long)]
    pub bind_now: bool,
    /// Print the event log.
    #[arg(long)]
    pub trace: bool,
    /// Print the event log, the result and errors as JSON lines.
    #[arg(long)]
    pub json: bool,
    /// Maximum basic blocks per top-level call.
    #[arg(long, default_value_t = Options::default().block_budget)]
    pub budget: u64,
    /// Warnings (writable and executable segments) are errors.
    #[arg(long)]
    pub strict: bool,
    /// Serve gdb's remote protocol on HOST:PORT (a loopback address): wait for gdb to connect,
    /// then stop before the first guest instruction.
    #[arg(long, value_name = "HOST:PORT")]
    pub gdb: Option<String>,
    /// With --gdb: stop right after the lazy resolver writes SYMBOL's slot (repeatable).
    #[arg(long, value_name = "SYMBOL", requires = "gdb")]
    pub break_on_bind: Vec<String>,
    /// With --gdb: stop before each initialiser.
    #[arg(long, requires = "gdb")]
    pub break_on_init: bool,
    /// Events kept in the log; later ones are counted and a "log truncated" event says so.
    #[arg(long, default_value_t = Options::default().max_events)]
    pub max_events: usize,
}

/// Attaches gdb when asked. Only loopback addresses: the protocol reads and writes guest
/// memory with no authentication.
fn attach_gdb(s: &mut Session, args: &RunArgs) -> Result<(), HarnessError> {
    let Some(address) = &args.gdb else {
        return Ok(());
    };
    let loopback = std::net::ToSocketAddrs::to_socket_addrs(address.as_str())
        .map_err(|e| HarnessError::Usage(format!("--gdb {address}: {e}")))?
        .all(|a| a.ip().is_loopback());
    if !loopback {
        return Err(HarnessError::Usage(format!(
            "--gdb {address}: only loopback addresses (127.0.0.1, [::1], localhost) are served"
        )));
    }
    let options = crate::gdb::DebugOptions {
        break_on_bind: args.break_on_bind.clone(),
        break_on_init: args.break_on_init,
    };
    s.attach_gdb(address, options)
}

fn parse_int(s: &str) -> Result<u64, HarnessError> {
    let r = if let Some(h) = s.strip_prefix("0x") {
        u64::from_str_radix(h, 16).ok()
    } else if let Some(n) = s.strip_prefix('-') {
        n.parse::<u64>().ok().map(|v| v.wrapping_neg())
    } else {
        s.parse::<u64>().ok()
    };
    r.ok_or_else(|| HarnessError::Usage(format!("--call argument {s:?} is not an integer")))
}

struct Outcome {
    returned: Option<u64>,
    exit_code: Option<i32>,
}

fn session_run(s: &mut Session, args: &RunArgs) -> Result<Outcome, HarnessError> {
    for l in &args.libs {
        s.add_library(l);
    }
    for d in &args.search_dirs {
        s.add_search_dir(d);
    }
    let mut out = Outcome {
        returned: None,
        exit_code: None,
    };
    attach_gdb(s, args)?;
    let body = |s: &mut Session, out: &mut Outcome| -> Result<(), HarnessError> {
        let root = s.load(&args.lib)?;
        s.run_init()?;
        if args.call.is_none() && s.is_program(root) {
            // A program: the host plays the kernel and ld.so, then _start runs main.
            let name = args.lib.display().to_string();
            out.exit_code = Some(s.run_entry(root, &[&name])?);
        }
        if let Some(call) = &args.call {
            let (sym, rest) = call
                .split_first()
                .ok_or_else(|| HarnessError::Usage("--call needs a symbol".into()))?;
            let vals = rest
                .iter()
                .map(|a| parse_int(a))
                .collect::<Result<Vec<_>, _>>()?;
            out.returned = Some(s.call(sym, &vals)?);
        }
        Ok(())
    };
    match body(s, &mut out) {
        Ok(()) => {}
        Err(HarnessError::Exit { code }) => out.exit_code = Some(code),
        Err(e) => return Err(e),
    }
    s.run_fini()?;
    Ok(out)
}

/// Runs the subcommand; returns the process exit status.
pub fn run(args: &RunArgs) -> i32 {
    let data = match std::fs::read(&args.lib) {
        Ok(d) => d,
        Err(e) => {
            return report(
                args,
                None,
                &HarnessError::Io {
                    path: args.lib.display().to_string(),
                    message: e.to_string(),
                },
            )
        }
    };
    let arch = match elf::detect_arch(&data, &args.lib.display().to_string()) {
        Ok(a) => a,
        Err(e) => return report(args, None, &e),
    };
    let options = Options {
        bind_now: args.bind_now,
        block_budget: args.budget,
        strict: args.strict,
        max_events: args.max_events,
    };
    let mut s = match Session::new(arch, options) {
        Ok(s) => s,
        Err(e) => return report(args, None, &e),
    };
    let result = session_run(&mut s, args);
    let code = match &result {
        Ok(o) => o.exit_code.unwrap_or(0),
        Err(_) => 1,
    };
    s.finish_gdb(code);
    print_output_and_trace(args, &s);
    match result {
        Ok(o) => {
            if let Some(v) = o.returned {
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({"result": v, "as_int": v as u32 as i32})
                    );
                } else {
                    println!(
                        // The width and signedness of the result are unknown: show the C `int`
                        // reading too.
                        "{} returned {v} ({v:#x}; as int {})",
                        args.call.as_ref().map_or("", |c| c[0].as_str()),
                        v as u32 as i32
                    );
                }
            }
            match o.exit_code {
                Some(code) => {
                    if args.json {
                        println!("{}", serde_json::json!({"exit": code}));
                    }
                    code
                }
                None => 0,
            }
        }
        Err(e) => report(args, Some(&s), &e),
    }
}

fn print_output_and_trace(args: &RunArgs, s: &Session) {
    if args.json {
        if args.trace {
            for e in s.events() {
                println!("{}", serde_json::to_string(e).unwrap_or_default());
            }
        }
        println!(
            "{}",
            serde_json::json!({"stdout": s.stdout(), "stderr": s.stderr()})
        );
    } else {
        print!("{}", s.stdout());
        eprint!("{}", s.stderr());
        if s.dropped_output() > 0 {
            eprintln!(
                "tether: the guest wrote {} more bytes of output than the harness keeps",
                s.dropped_output()
            );
        }
        if args.trace {
            for e in s.events() {
                eprintln!("{e}");
            }
        }
    }
}

fn report(args: &RunArgs, _s: Option<&Session>, e: &HarnessError) -> i32 {
    if args.json {
        println!("{}", serde_json::to_string(e).unwrap_or_default());
    } else {
        eprintln!("tether: error: {e}");
    }
    match e {
        HarnessError::Usage(_) => 2,
        _ => 1,
    }
}
