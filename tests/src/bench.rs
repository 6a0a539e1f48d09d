//! Sizes for the benchmarks in `tests/benches`: the full size they are
//! measured at, or a tiny one for a smoke run.
//!
//! `FIELDOPS_BENCH_SMOKE=1` makes every benchmark run once at a size that
//! takes seconds, so CI can run them all on every change and none rots
//! unnoticed: each one still starts its servers, drives every path it
//! measures and checks what it asserts, and prints its figures, but at that
//! size the figures mean nothing and nobody judges them. Without the
//! variable (or with `0`), the benchmarks run at their full size. Explicit
//! size knobs (`FIELDOPS_BENCH_DOCS`, `FIELDOPS_BENCH_ROUNDS`, ...) still win
//! over either default.
//!
//! ```sh
//! FIELDOPS_BENCH_SMOKE=1 cargo test --workspace --bins --bench '*'   # as .ci/run does
//! FIELDOPS_BENCH_SMOKE=1 cargo bench -p fieldops-tests --bench sync   # one, in release
//! ```

/// The environment variable that asks for smoke runs.
pub const SMOKE_VAR: &str = "FIELDOPS_BENCH_SMOKE";

/// Whether this is a smoke run (`FIELDOPS_BENCH_SMOKE` set, and not to `0`
/// or `false`).
pub fn smoke() -> bool {
    std::env::var(SMOKE_VAR).is_ok_and(|v| {
        let v = v.trim();
        !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false")
    })
}

/// `full` for a measurement, `smoke` for a smoke run.
pub fn size<T>(full: T, smoke: T) -> T {
    if self::smoke() { smoke } else { full }
}

/// Prints a line saying this is a smoke run, when it is: its figures are
/// not measurements.
pub fn announce(name: &str) {
    if smoke() {
        println!("{name}: smoke run ({SMOKE_VAR}): tiny sizes, figures not meaningful");
    }
}

/// The `p` quantile (0–1) of `sorted` timings, nearest rank.
pub fn percentile(sorted: &[std::time::Duration], p: f64) -> std::time::Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Peak resident memory (`VmHWM`) of the process whose status file is
/// `status` (`/proc/<pid>/status`), in MiB.
pub fn peak_rss_mib_at(status: &str) -> f64 {
    let status = std::fs::read_to_string(status).expect("the process's status");
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status");
    kb / 1024.0
}

/// Starts measuring this process's peak resident memory afresh (Linux:
/// `5` to `/proc/self/clear_refs` resets `VmHWM` to the current RSS) and
/// returns that RSS, in MiB: [`peak_rss_mib`] minus it is what the work
/// after it took at most.
pub fn reset_peak_rss() -> f64 {
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting VmHWM (Linux 4.0 or later)");
    peak_rss_mib()
}

/// This process's peak resident memory, in MiB (since [`reset_peak_rss`]).
pub fn peak_rss_mib() -> f64 {
    peak_rss_mib_at("/proc/self/status")
}
