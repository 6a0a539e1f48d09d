//! The `fieldops` binary as a child process on loopback, for tests that
//! kill it (crash trials) and benchmarks that measure it apart from the
//! load generator.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The `fieldops` binary, built in the calling benchmark's own profile (release
/// under `cargo bench`, debug under `cargo test`), unless
/// `FIELDOPS_BENCH_SERVER_BIN` names one already built (CI passes the one its
/// test step built, so a smoke run builds nothing more).
pub fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FIELDOPS_BENCH_SERVER_BIN") {
        return PathBuf::from(path);
    }
    // A bench's executable is target/<profile dir>/deps/<bench>-<hash>.
    let exe = std::env::current_exe().expect("the bench's own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let profile = match profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a profile directory")
    {
        "debug" => "dev",
        other => other,
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = std::process::Command::new(env!("CARGO"))
        .args([
            "build",
            "--profile",
            profile,
            "--quiet",
            "-p",
            "fieldops-server",
            "--bin",
            "fieldops",
        ])
        .current_dir(&root)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the fieldops binary failed");
    profile_dir.join("fieldops")
}

/// A running `fieldops serve`; killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// Starts `binary serve --listen 127.0.0.1:0 --database-url
    /// database_url` plus `args`, with `env` set, and waits for the address
    /// it prints.
    pub fn start(binary: &Path, database_url: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(binary);
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                database_url,
            ])
            .args(args)
            .env("FIELDOPS_LOG", "warn,fieldops=info")
            .env_remove("FIELDOPS_FAULT")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command.spawn().expect("the fieldops binary starts");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let addr = stdout
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                line.split("listening on http://")
                    .nth(1)
                    .and_then(|a| a.trim().parse().ok())
            })
            .expect("the server printed its address");
        Self { child, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Peak resident memory of the process, in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        crate::bench::peak_rss_mib_at(&format!("/proc/{}/status", self.child.id()))
    }

    /// Waits for the process to end by itself; its exit status.
    pub fn wait(mut self) -> std::process::ExitStatus {
        self.child.wait().expect("waiting for the process")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
