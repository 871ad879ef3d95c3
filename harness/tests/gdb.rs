//! `tether run --gdb`: Debian's gdb-multiarch, in batch mode, debugging the seed scenario (and
//! a library that faults) through the harness's GDB server on x86-64, Thumb-2 and ARM.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(60);

/// What one debugging session printed.
struct Debugged {
    gdb: String,
    stdout: String,
    stderr: String,
    status: i32,
}

fn wait(child: &mut Child, what: &str) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code().unwrap_or(-1);
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("{what} did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Builds the seed scenario's libraries for `tc` (with debug information, unoptimised so that
/// every call goes through the PLT with a `call`/`bl`).
fn seed_libraries(tc: Toolchain, dir: &Path) {
    let seed = seed_dir();
    tc.shared(
        dir,
        "libtest.so",
        &read(seed.join("libtest.c")),
        &["-g", "-O0"],
    );
    tc.shared(
        dir,
        "libgo.so",
        &read(seed.join("libgo.c")),
        &["-g", "-O0", "-Wl,-init=go_init", "-ltest"],
    );
}

/// Runs `tether run LIB -L DIR --call CALL… --gdb 127.0.0.1:0 EXTRA…` (the port the system
/// picks, read back from tether's first line) and gdb-multiarch on `script`, which follows a
/// `target remote` to that port.
fn debug(dir: &Path, lib: &str, call: &[&str], extra: &[&str], script: &str) -> Debugged {
    let mut tether = Command::new(env!("CARGO_BIN_EXE_tether"))
        .arg("run")
        .arg(dir.join(lib))
        .arg("-L")
        .arg(dir)
        .arg("--trace")
        .args(if call.is_empty() {
            &[][..]
        } else {
            &["--call"][..]
        })
        .args(call)
        .args(["--gdb", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tether");
    let mut stderr = BufReader::new(tether.stderr.take().expect("stderr"));
    let mut first = String::new();
    stderr.read_line(&mut first).expect("tether's first line");
    let address = first
        .split_whitespace()
        .nth(5)
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();
    let commands = dir.join("commands.gdb");
    std::fs::write(
        &commands,
        format!("set pagination off\nset confirm off\nset breakpoint pending on\ntarget remote {address}\n{script}"),
    )
    .expect("write gdb script");
    let mut gdb = Command::new("gdb-multiarch")
        .args(["-batch", "-nx", "-x"])
        .arg(&commands)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gdb-multiarch is installed by scripts/setup.sh");
    let mut gdb_out = gdb.stdout.take().expect("gdb stdout");
    let mut gdb_err = gdb.stderr.take().expect("gdb stderr");
    let readers = (
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = gdb_out.read_to_string(&mut s);
            let mut e = String::new();
            let _ = gdb_err.read_to_string(&mut e);
            s + &e
        }),
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        }),
    );
    wait(&mut gdb, "gdb");
    let status = wait(&mut tether, "tether run --gdb");
    let mut stdout = String::new();
    tether
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("tether stdout");
    let gdb = readers.0.join().expect("gdb output");
    let stderr = first + &readers.1.join().expect("tether stderr");
    Debugged {
        gdb,
        stdout,
        stderr,
        status,
    }
}

/// Where the harness loaded `object` (from its trace): (base, size).
fn loaded_at(stderr: &str, object: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&format!("load   {object} at ")))
        .unwrap_or_else(|| panic!("{object} not loaded:\n{stderr}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let base = u64::from_str_radix(words[3].trim_start_matches("0x"), 16).expect("base");
    let size = u64::from_str_radix(words[4].trim_start_matches("(0x"), 16).expect("size");
    (base, size)
}

fn hex_after(text: &str, marker: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.split_once(marker).map(|(_, rest)| rest))
        .filter_map(|rest| {
            let word = rest.split_whitespace().next()?;
            u64::from_str_radix(word.trim_start_matches("0x"), 16).ok()
        })
        .collect()
}

fn expected_output() -> String {
    read(seed_dir().join("expected.txt")) + "Go_callback returned "
}

fn assert_unchanged_run(d: &Debugged) {
    assert!(
        d.stdout.starts_with(&expected_output()),
        "the guest's output changed under gdb:\n{}",
        d.stdout
    );
    assert_eq!(d.status, 0, "{}", d.stderr);
    assert!(
        d.gdb.contains("[Inferior 1 (process 1) exited normally]"),
        "gdb did not see the exit:\n{}",
        d.gdb
    );
}

/// Registers gdb prints as `REG <value>` lines (ARM's T bit, a VFP register, the x86-64
/// segment bases and an SSE register); the other architecture's names are voids.
const REGISTERS: &str = "python\nfor r in ['cpsr', 'd0', 'fpscr', 'fs_base', 'gs_base', 'xmm0', 'eflags']:\n    try:\n        print('REG %s %s' % (r, gdb.execute('p/x $' + r, to_string=True).strip()))\n    except gdb.error as e:\n        print('REG %s error %s' % (r, e))\nend\n";

fn register<'a>(gdb: &'a str, name: &str) -> &'a str {
    let prefix = format!("REG {name} ");
    gdb.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name}:\n{gdb}"))
}

fn check_registers(tc: Toolchain, gdb: &str) {
    let value = |name: &str| {
        let v = register(gdb, name);
        let hex = v.rsplit(' ').next().unwrap_or_default();
        u64::from_str_radix(hex.trim_start_matches("0x"), 16)
            .unwrap_or_else(|_| panic!("{name} is not a number: {v}"))
    };
    match tc.arch() {
        tether_harness::Arch::Arm => {
            let thumb = value("cpsr") & 0x20 != 0;
            assert_eq!(thumb, tc == Toolchain::GnuThumb, "CPSR.T in Go_callback");
            assert!(
                register(gdb, "d0").starts_with("$"),
                "no VFP: {}",
                register(gdb, "d0")
            );
            value("fpscr");
        }
        tether_harness::Arch::X86_64 => {
            let layout = tether_harness::Arch::X86_64.layout();
            // Variant 2 TLS: the thread pointer is the TCB at the top of the TLS area.
            assert_eq!(value("fs_base"), layout.tls + layout.tls_size - 0x1000);
            assert_eq!(value("gs_base"), 0);
            assert!(
                register(gdb, "xmm0").contains("v4_float"),
                "{}",
                register(gdb, "xmm0")
            );
            value("eflags");
        }
    }
}

/// break Go_callback, continue, bt, info sharedlibrary, x/i $pc, continue to the exit.
fn breakpoint_backtrace_libraries(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    seed_libraries(tc, dir.path());
    let d = debug(
        dir.path(),
        "libgo.so",
        &["Go_callback", "2"],
        &[],
        &format!(
            "break Go_callback\ncontinue\nbt\ninfo sharedlibrary\nx/i $pc\n{REGISTERS}continue\n"
        ),
    );
    check_registers(tc, &d.gdb);
    assert!(
        d.gdb.contains("Breakpoint 1, Go_callback (n=2)"),
        "no stop at Go_callback:\n{}",
        d.gdb
    );
    let frame0 = d.gdb.lines().find(|l| l.starts_with("#0 ")).expect("bt");
    assert!(frame0.contains("Go_callback (n=2)"), "{frame0}");
    for object in ["libgo.so", "libtest.so"] {
        let (base, size) = loaded_at(&d.stderr, object);
        let line = d
            .gdb
            .lines()
            .find(|l| l.ends_with(&format!("/{object}")))
            .unwrap_or_else(|| panic!("info sharedlibrary lacks {object}:\n{}", d.gdb));
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[2], "Yes", "symbols of {object} not read: {line}");
        for w in &words[..2] {
            let a = u64::from_str_radix(w.trim_start_matches("0x"), 16).expect("address");
            assert!(
                (base..base + size).contains(&a),
                "{object}'s text {a:#x} outside where the harness loaded it ({base:#x}+{size:#x})"
            );
        }
    }
    let insn = d
        .gdb
        .lines()
        .find(|l| l.starts_with("=> "))
        .expect("x/i $pc");
    assert!(insn.contains("<Go_callback+"), "{insn}");
    assert_unchanged_run(&d);
}

/// From go_init's call of test_hello (its first, so the slot is still unbound), stepi goes into
/// the PLT entry, through PLT0 into the resolver, and on to test_hello with the slot written.
fn stepi_through_plt_into_resolver(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    seed_libraries(tc, dir.path());
    let resolver = tc.arch().layout().resolver_trap();
    let script = format!(
        r#"break go_init
continue
next
python
import gdb
def pc():
    return int(gdb.parse_and_eval("$pc")) & ~1
def insn():
    return gdb.selected_frame().architecture().disassemble(pc())[0]['asm']
for i in range(60):
    if 'test_hello@plt' in insn():
        break
    gdb.execute('stepi', to_string=True)
print("CALL " + insn())
gdb.execute('stepi', to_string=True)
print("ENTRY " + gdb.execute('x/i $pc', to_string=True).strip())
for i in range(12):
    if pc() == {resolver}:
        break
    gdb.execute('stepi', to_string=True)
    print("STEP " + gdb.execute('x/i $pc', to_string=True).strip())
print("RESOLVER %#x" % pc())
gdb.execute('stepi', to_string=True)
print("BOUND " + gdb.execute('x/i $pc', to_string=True).strip())
end
x/a &'test_hello@got.plt'
continue
"#
    );
    let d = debug(dir.path(), "libgo.so", &["Go_callback", "2"], &[], &script);
    let call = d
        .gdb
        .lines()
        .find(|l| l.starts_with("CALL "))
        .expect("a call");
    assert!(
        call.contains("call") || call.contains("bl"),
        "not a call: {call}"
    );
    let entry = d
        .gdb
        .lines()
        .find(|l| l.starts_with("ENTRY "))
        .expect("entry");
    assert!(
        entry.contains("<test_hello@plt>:"),
        "stepi did not enter the PLT: {entry}\n{}",
        d.gdb
    );
    // Through PLT0 (outside any PLT entry's symbol) before the resolver.
    assert!(
        d.gdb
            .lines()
            .any(|l| l.starts_with("STEP ") && !l.contains("@plt")),
        "never in PLT0:\n{}",
        d.gdb
    );
    assert_eq!(hex_after(&d.gdb, "RESOLVER "), vec![resolver], "{}", d.gdb);
    let bound = d
        .gdb
        .lines()
        .find(|l| l.starts_with("BOUND "))
        .expect("bound");
    assert!(
        bound.contains("<test_hello>:"),
        "the resolver did not go on to test_hello: {bound}"
    );
    let slot = d
        .gdb
        .lines()
        .find(|l| l.contains("<test_hello@got.plt>:"))
        .expect("the slot");
    assert!(slot.ends_with("<test_hello>"), "slot not written: {slot}");
    assert_unchanged_run(&d);
}

/// --break-on-bind test_hello: a SIGTRAP with the harness's message, the slot already holding
/// test_hello and the pc at it.
fn break_on_bind(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    seed_libraries(tc, dir.path());
    let d = debug(
        dir.path(),
        "libgo.so",
        &["Go_callback", "2"],
        &["--break-on-bind", "test_hello"],
        "continue\nx/a &'test_hello@got.plt'\nx/i $pc\ncontinue\n",
    );
    assert!(
        d.gdb.contains("received signal SIGTRAP"),
        "no stop:\n{}",
        d.gdb
    );
    let message = d
        .gdb
        .lines()
        .find(|l| l.contains("tether: the lazy resolver bound libgo.so's slot"))
        .unwrap_or_else(|| panic!("no message:\n{}", d.gdb));
    assert!(message.contains("for test_hello to 0x"), "{message}");
    let slot = hex_after(message, "slot ")[0];
    let target = hex_after(message, " to ")[0];
    let shown = d
        .gdb
        .lines()
        .find(|l| l.contains("<test_hello@got.plt>:"))
        .expect("x/a of the slot");
    assert!(
        shown.starts_with(&format!("{slot:#x}")),
        "{shown} is not slot {slot:#x}"
    );
    assert!(
        shown.ends_with("<test_hello>"),
        "slot not yet written: {shown}"
    );
    assert!(
        shown.contains(&format!("{target:#x}")),
        "{shown} does not hold {target:#x}"
    );
    let insn = d
        .gdb
        .lines()
        .find(|l| l.starts_with("=> "))
        .expect("x/i $pc");
    assert!(insn.contains("<test_hello>:"), "{insn}");
    assert_unchanged_run(&d);
}

/// --break-on-init: a SIGTRAP before every initialiser, dependencies first, then the exit.
fn break_on_init(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    seed_libraries(tc, dir.path());
    let d = debug(
        dir.path(),
        "libgo.so",
        &["Go_callback", "2"],
        &["--break-on-init"],
        &"continue\n".repeat(12),
    );
    let stops: Vec<&str> = d
        .gdb
        .lines()
        .filter(|l| l.starts_with("tether: before "))
        .collect();
    let inits = d
        .stderr
        .lines()
        .filter(|l| l.starts_with("init   "))
        .count();
    assert_eq!(stops.len(), inits, "one stop per initialiser:\n{}", d.gdb);
    assert_eq!(
        d.gdb.matches("received signal SIGTRAP").count(),
        inits,
        "{}",
        d.gdb
    );
    let go = stops
        .iter()
        .position(|l| l.contains("libgo.so's initialiser DT_INIT "))
        .expect("libgo's DT_INIT");
    assert!(
        stops[..go].iter().any(|l| l.contains("libtest.so")),
        "{stops:?}"
    );
    assert_unchanged_run(&d);
}

/// A guest fault stops as SIGSEGV with the faulting address; going on ends the inferior with it.
fn segfault(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    tc.shared(
        dir.path(),
        "libcrash.so",
        "int crash(void) { return *(volatile int *)0x10; }\n",
        &["-g", "-O0"],
    );
    let d = debug(
        dir.path(),
        "libcrash.so",
        &["crash"],
        &[],
        "continue\nx/i $pc\ncontinue\n",
    );
    assert!(d.gdb.contains("received signal SIGSEGV"), "{}", d.gdb);
    let message = d
        .gdb
        .lines()
        .find(|l| l.starts_with("tether: "))
        .unwrap_or_else(|| panic!("no message:\n{}", d.gdb));
    assert!(
        message.contains("0x10"),
        "the faulting address is not named: {message}"
    );
    let insn = d
        .gdb
        .lines()
        .find(|l| l.starts_with("=> "))
        .expect("x/i $pc");
    assert!(insn.contains("<crash+"), "{insn}");
    assert!(
        d.gdb.contains("terminated with signal SIGSEGV"),
        "{}",
        d.gdb
    );
    assert_eq!(d.status, 1);
}

/// After a SIGSEGV, gdb may repair the guest (a register write) and resume without the
/// signal: the faulting load runs again and the call returns what it now reads.
fn repair_after_segfault(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    tc.shared(
        dir.path(),
        "libcrash.so",
        "int value = 42;\nint crash(void) { return *(volatile int *)0x10; }\n",
        &["-g", "-O0"],
    );
    let script = "continue\npython\nfor r in ['rax', 'rdx', 'rcx', 'r0', 'r1', 'r2', 'r3']:\n    try:\n        if int(gdb.parse_and_eval('$' + r)) == 0x10:\n            gdb.execute('set $%s = &value' % r)\n            print('REPAIRED ' + r)\n            break\n    except gdb.error:\n        pass\nend\nsignal 0\n";
    let d = debug(dir.path(), "libcrash.so", &["crash"], &[], script);
    assert!(d.gdb.contains("received signal SIGSEGV"), "{}", d.gdb);
    assert!(
        d.gdb.contains("REPAIRED "),
        "no register held the address:\n{}",
        d.gdb
    );
    assert!(
        d.stdout.starts_with("crash returned 42 "),
        "{}\n{}",
        d.stdout,
        d.gdb
    );
    assert_eq!(d.status, 0, "{}", d.stderr);
}

/// A runaway guest stops gdb with SIGXCPU when the block budget runs out; a watchpoint stops
/// at the write that changes its variable, and a value gdb writes is what the guest reads.
fn budget_and_watchpoint(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    tc.shared(
        dir.path(),
        "libspin.so",
        "int counter;\nint spin(void) { for (;;) counter++; }\n",
        &["-g", "-O0"],
    );
    let d = debug(
        dir.path(),
        "libspin.so",
        &["spin"],
        &["--budget", "100000"],
        "break spin\ncontinue\ndelete 1\nwatch counter\ncontinue\nset var counter = 100\ncontinue\ndelete\ncontinue\ncontinue\n",
    );
    assert!(
        d.gdb.contains("Old value = 0") && d.gdb.contains("New value = 1"),
        "{}",
        d.gdb
    );
    // gdb's memory write is what the guest reads next.
    assert!(
        d.gdb.contains("Old value = 100") && d.gdb.contains("New value = 101"),
        "{}",
        d.gdb
    );
    assert!(d.gdb.contains("received signal SIGXCPU"), "{}", d.gdb);
    assert!(
        d.gdb.contains("tether: guest fault: BudgetExceeded"),
        "{}",
        d.gdb
    );
    assert_eq!(d.status, 1);
}

/// A program run from its entry point: gdb reads the executable's name and the auxiliary
/// vector from the server, so `main` is found at its load address and named in the backtrace.
fn program(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    seed_libraries(tc, dir.path());
    let main = read(seed_dir().join("main.c"));
    tc.program(
        dir.path(),
        "main",
        &main,
        true,
        &["-g", "-O0", "-lgo", "-ltest"],
    );
    let d = debug(
        dir.path(),
        "main",
        &[],
        &[],
        "break Go_callback\ncontinue\nbt\ninfo sharedlibrary\ncontinue\n",
    );
    assert!(
        d.gdb.contains("Breakpoint 1, Go_callback (n=2)"),
        "{}",
        d.gdb
    );
    let frame1 = d.gdb.lines().find(|l| l.starts_with("#1 ")).expect("bt");
    assert!(frame1.contains(" in main ()"), "{frame1}");
    let (base, size) = loaded_at(&d.stderr, "main");
    let at = hex_after(frame1, "#1  ")[0];
    assert!(
        (base..base + size).contains(&at),
        "main's frame {at:#x} is not in main"
    );
    for object in ["libgo.so", "libtest.so"] {
        assert!(
            d.gdb.lines().any(|l| l.ends_with(&format!("/{object}"))),
            "{object} not listed:\n{}",
            d.gdb
        );
    }
    assert_eq!(d.stdout, read(seed_dir().join("expected.txt")));
    assert_eq!(d.status, 0, "{}", d.stderr);
    assert!(
        d.gdb.contains("[Inferior 1 (process 1) exited normally]"),
        "{}",
        d.gdb
    );
}

/// gdb's interrupt (Ctrl-C, 0x03 on the wire) stops a running guest with SIGINT where it is.
fn interrupt(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    tc.shared(
        dir.path(),
        "libspin.so",
        "int counter;\nint spin(void) { for (;;) counter++; }\n",
        &["-g", "-O0"],
    );
    let d = debug(
        dir.path(),
        "libspin.so",
        &["spin"],
        &["--budget", "1000000000000"],
        // gdb's event loop runs the posted interrupt while `continue` waits for a stop.
        "python\nimport gdb, threading, time\ndef later():\n    time.sleep(1)\n    gdb.post_event(lambda: gdb.execute('interrupt'))\nthreading.Thread(target=later).start()\nend\ncontinue\nx/i $pc\nprint counter > 0\nkill\n",
    );
    assert!(d.gdb.contains("received signal SIGINT"), "{}", d.gdb);
    let insn = d
        .gdb
        .lines()
        .find(|l| l.starts_with("=> "))
        .expect("x/i $pc");
    assert!(insn.contains("<spin+"), "{insn}");
    assert!(
        d.gdb.contains("$1 = 1"),
        "the guest had not run:\n{}",
        d.gdb
    );
    assert!(d.stderr.contains("gdb killed the guest"), "{}", d.stderr);
    assert_eq!(d.status, 1);
}

#[test]
fn x86_64_repair_after_segfault() {
    repair_after_segfault(Toolchain::GnuX86);
}
#[test]
fn arm_repair_after_segfault() {
    repair_after_segfault(Toolchain::GnuArm);
}

/// A library `dlopen` loads is reported to gdb (a library stop) before its initialiser runs:
/// a pending breakpoint in it takes, and the backtrace goes back through the host's dlsym'd
/// call into libhost.
fn breakpoint_in_a_dlopened_library(tc: Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    let scenario = seed_dir().join("../dlopen");
    tc.shared(
        dir.path(),
        "libhost.so",
        &read(scenario.join("libhost.c")),
        &["-g", "-O0", "-ldl"],
    );
    tc.shared(
        dir.path(),
        "libplugin.so",
        &read(scenario.join("libplugin.c")),
        &["-g", "-O0", "-lhost"],
    );
    let d = debug(
        dir.path(),
        "libhost.so",
        &["load_plugin"],
        &[],
        "break plugin_entry\ncontinue\nbt\ninfo sharedlibrary\ncontinue\n",
    );
    assert!(
        d.gdb.contains("Breakpoint 1, plugin_entry (x=21)"),
        "{}",
        d.gdb
    );
    let frame1 = d.gdb.lines().find(|l| l.starts_with("#1 ")).expect("bt");
    assert!(frame1.contains("in load_plugin ()"), "{frame1}");
    let (base, _) = loaded_at(&d.stderr, "libplugin.so");
    let line = d
        .gdb
        .lines()
        .find(|l| l.ends_with("/libplugin.so"))
        .unwrap_or_else(|| panic!("libplugin.so not listed:\n{}", d.gdb));
    let from = hex_after(&format!("x {line}"), "x ")[0];
    assert!(from > base, "{line}");
    assert!(
        d.stdout.contains("libhost: plugin returned 43"),
        "{}",
        d.stdout
    );
    assert!(d.gdb.contains("exited normally"), "{}", d.gdb);
}

#[test]
fn x86_64_breakpoint_in_a_dlopened_library() {
    breakpoint_in_a_dlopened_library(Toolchain::GnuX86);
}
#[test]
fn thumb_breakpoint_in_a_dlopened_library() {
    breakpoint_in_a_dlopened_library(Toolchain::GnuThumb);
}

/// A load error before any guest code ran still reaches gdb, as the inferior's exit status.
#[test]
fn a_load_error_ends_the_debugged_inferior() {
    let dir = tempfile::tempdir().unwrap();
    let tc = Toolchain::GnuX86;
    tc.shared(dir.path(), "libgone.so", "int g(void) { return 1; }\n", &[]);
    tc.shared(
        dir.path(),
        "libneeds.so",
        "int g(void);\nint f(void) { return g(); }\n",
        &["-lgone"],
    );
    std::fs::remove_file(dir.path().join("libgone.so")).unwrap();
    let d = debug(dir.path(), "libneeds.so", &["f"], &[], "continue\n");
    assert!(d.stderr.contains("libgone.so"), "{}", d.stderr);
    assert!(
        d.gdb
            .contains("[Inferior 1 (process 1) exited with code 01]"),
        "{}",
        d.gdb
    );
    assert_eq!(d.status, 1);
}

#[test]
fn x86_64_program() {
    program(Toolchain::GnuX86);
}
#[test]
fn thumb_program() {
    program(Toolchain::GnuThumb);
}
#[test]
fn x86_64_interrupt() {
    interrupt(Toolchain::GnuX86);
}
#[test]
fn thumb_interrupt() {
    interrupt(Toolchain::GnuThumb);
}

#[test]
fn x86_64_breakpoint_backtrace_libraries() {
    breakpoint_backtrace_libraries(Toolchain::GnuX86);
}
#[test]
fn thumb_breakpoint_backtrace_libraries() {
    breakpoint_backtrace_libraries(Toolchain::GnuThumb);
}
#[test]
fn arm_breakpoint_backtrace_libraries() {
    breakpoint_backtrace_libraries(Toolchain::GnuArm);
}
#[test]
fn x86_64_stepi_through_plt_into_resolver() {
    stepi_through_plt_into_resolver(Toolchain::GnuX86);
}
#[test]
fn thumb_stepi_through_plt_into_resolver() {
    stepi_through_plt_into_resolver(Toolchain::GnuThumb);
}
#[test]
fn arm_stepi_through_plt_into_resolver() {
    stepi_through_plt_into_resolver(Toolchain::GnuArm);
}
#[test]
fn x86_64_break_on_bind() {
    break_on_bind(Toolchain::GnuX86);
}
#[test]
fn thumb_break_on_bind() {
    break_on_bind(Toolchain::GnuThumb);
}
#[test]
fn arm_break_on_bind() {
    break_on_bind(Toolchain::GnuArm);
}
#[test]
fn x86_64_break_on_init() {
    break_on_init(Toolchain::GnuX86);
}
#[test]
fn thumb_break_on_init() {
    break_on_init(Toolchain::GnuThumb);
}
#[test]
fn x86_64_segfault() {
    segfault(Toolchain::GnuX86);
}
#[test]
fn thumb_segfault() {
    segfault(Toolchain::GnuThumb);
}
#[test]
fn x86_64_budget_and_watchpoint() {
    budget_and_watchpoint(Toolchain::GnuX86);
}
#[test]
fn arm_budget_and_watchpoint() {
    budget_and_watchpoint(Toolchain::GnuArm);
}

#[test]
fn refuses_a_non_loopback_address() {
    let dir = tempfile::tempdir().unwrap();
    Toolchain::GnuX86.shared(dir.path(), "libx.so", "int f(void) { return 1; }\n", &[]);
    let o = Command::new(env!("CARGO_BIN_EXE_tether"))
        .arg("run")
        .arg(dir.path().join("libx.so"))
        .args(["--call", "f", "--gdb", "0.0.0.0:1234"])
        .output()
        .expect("run tether");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("only loopback addresses"));
}
