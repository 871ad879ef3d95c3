//! What must not outlive the process: temporary directories and children's process groups.
//! Both are registered while they exist; on Ctrl-C (SIGINT) or SIGTERM the handler kills
//! every registered group, removes every registered directory and exits with 130.
//!
//! Normal exits need nothing from here: temporary directories remove themselves on drop and
//! children are reaped by [`crate::child`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};

/// Set by the handler before it kills anything, so that work ended by the kill is not
/// reported as a normal exit (see [`hold_if_interrupted`]).
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());
static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static HANDLER: Once = Once::new();

/// Installs the signal handler (once per process; later calls do nothing). A program that
/// has its own handler keeps it: this one is then not installed.
pub fn install_handler() {
    HANDLER.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            INTERRUPTED.store(true, Ordering::SeqCst);
            interrupted();
            std::process::exit(130);
        });
    });
}

/// Called when work that the handler may have cut short returns: after a Ctrl-C, waits for
/// the handler to finish cleaning up and exit with 130, rather than racing it to exit with
/// the outcome of killed children.
pub fn hold_if_interrupted() {
    while INTERRUPTED.load(Ordering::SeqCst) {
        std::thread::park();
    }
}

fn interrupted() {
    if let Ok(groups) = GROUPS.lock() {
        for &g in groups.iter() {
            crate::child::kill_group(g);
        }
    }
    if let Ok(dirs) = DIRS.lock() {
        for d in dirs.iter() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

pub(crate) fn register_group(pid: i32) {
    if let Ok(mut g) = GROUPS.lock() {
        g.push(pid);
    }
}

pub(crate) fn unregister_group(pid: i32) {
    if let Ok(mut g) = GROUPS.lock() {
        g.retain(|&p| p != pid);
    }
}

/// A temporary directory removed when dropped and, while it lives, on Ctrl-C.
pub struct TempDir {
    dir: Option<tempfile::TempDir>,
}

impl TempDir {
    pub fn new(prefix: &str) -> std::io::Result<TempDir> {
        install_handler();
        let dir = tempfile::Builder::new().prefix(prefix).tempdir()?;
        if let Ok(mut d) = DIRS.lock() {
            d.push(dir.path().to_path_buf());
        }
        Ok(TempDir { dir: Some(dir) })
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), |d| d.path())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            if let Ok(mut d) = DIRS.lock() {
                d.retain(|p| p != dir.path());
            }
            let _ = dir.close();
        }
    }
}
