//! The phase timer behind `--time-trace` and `TETHER_TIME_TRACE=1`: each named pass of the
//! link reports how long it took on stderr, so a profile starts from numbers rather than
//! guesses. Off, it costs one relaxed atomic load per phase.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns the timer on for this process (the option), or when the environment asks.
pub fn enable(on: bool) {
    let env = std::env::var_os("TETHER_TIME_TRACE").is_some_and(|v| v != "0" && !v.is_empty());
    ENABLED.store(on || env, Ordering::Relaxed);
}

/// Whether phase times are printed.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Times the rest of the enclosing scope as phase `name`.
#[must_use = "the phase ends when the guard is dropped"]
pub fn phase(name: &'static str) -> Phase {
    Phase {
        name,
        start: ENABLED.load(Ordering::Relaxed).then(Instant::now),
    }
}

/// Runs `f` as phase `name`.
pub fn time<T>(name: &'static str, f: impl FnOnce() -> T) -> T {
    let _phase = phase(name);
    f()
}

pub struct Phase {
    name: &'static str,
    start: Option<Instant>,
}

impl Drop for Phase {
    fn drop(&mut self) {
        if let Some(start) = self.start {
            let ms = start.elapsed().as_secs_f64() * 1e3;
            eprintln!("ld.tether: time: {:>9.2} ms  {}", ms, self.name);
        }
    }
}
