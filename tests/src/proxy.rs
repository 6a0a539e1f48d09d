//! A loopback TCP proxy between a real phone core and a test server, for
//! cutting uploads at an exact byte and counting what is sent.
//!
//! It understands just enough HTTP/1.1 (request heads and `Content-Length`
//! bodies, kept-alive connections, WebSocket upgrades passed through) to count
//! the bytes of `PATCH` bodies — the upload chunks — and to drop every
//! connection once a given total has been forwarded: the device goes
//! offline in the middle of a chunk — or to forward a chunk whole and lose
//! the server's answer to it. While offline it refuses connections.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

#[derive(Debug, Default)]
struct State {
    online: AtomicBool,
    /// `PATCH` body bytes forwarded to the server, ever.
    patch_bytes: AtomicU64,
    /// Go offline once `patch_bytes` reaches this.
    cut_at: Mutex<Option<u64>>,
    /// Lose the answer to the `PATCH` whose body reaches this many
    /// `patch_bytes`, then go offline.
    lose_answer_at: Mutex<Option<u64>>,
    /// `METHOD path` of every request forwarded.
    requests: Mutex<Vec<String>>,
    connections: Mutex<Vec<AbortHandle>>,
}

impl State {
    fn go_offline(&self) {
        self.online.store(false, Ordering::SeqCst);
        for handle in self.connections.lock().unwrap().drain(..) {
            handle.abort();
        }
    }
}

/// The proxy; dropped, it stops.
#[derive(Debug)]
pub struct CutProxy {
    pub addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.state.go_offline();
    }
}

impl CutProxy {
    /// Listens on `127.0.0.1:0` and forwards to `upstream`; starts online.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        state.online.store(true, Ordering::SeqCst);
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !shared.online.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let state = shared.clone();
                let handle = tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (client_rd, client_wr) = client.into_split();
                    let (server_rd, server_wr) = server.into_split();
                    let mute = AtomicBool::new(false);
                    tokio::select! {
                        _ = requests(client_rd, server_wr, &state, &mute) => {}
                        _ = answers(server_rd, client_wr, &mute) => {}
                    }
                });
                shared
                    .connections
                    .lock()
                    .unwrap()
                    .push(handle.abort_handle());
            }
        });
        CutProxy { addr, state, task }
    }

    /// The base URL a core should use.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Online: accept connections. Offline: drop them all and refuse new ones.
    pub fn set_online(&self, online: bool) {
        if online {
            self.state.online.store(true, Ordering::SeqCst);
        } else {
            self.state.go_offline();
        }
    }

    /// Goes offline once `total` `PATCH` body bytes (counted since the start)
    /// have been forwarded, in the middle of a chunk if it falls there.
    pub fn cut_patches_at(&self, total: u64) {
        *self.state.cut_at.lock().unwrap() = Some(total);
    }

    pub fn clear_cut(&self) {
        *self.state.cut_at.lock().unwrap() = None;
        *self.state.lose_answer_at.lock().unwrap() = None;
    }

    /// Forwards the `PATCH` whose body reaches `total` bytes (counted since
    /// the start) whole, lets the server answer it, and drops the answer
    /// instead of passing it on: the server did the work, the client never
    /// hears of it. Then offline, like a cut.
    pub fn lose_answer_at(&self, total: u64) {
        *self.state.lose_answer_at.lock().unwrap() = Some(total);
    }

    /// `PATCH` body bytes forwarded so far.
    pub fn patch_bytes(&self) -> u64 {
        self.state.patch_bytes.load(Ordering::SeqCst)
    }

    /// How many requests `METHOD path` (path prefix) were forwarded.
    pub fn count(&self, method: &str, path_prefix: &str) -> usize {
        self.state
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| {
                r.split_once(' ')
                    .is_some_and(|(m, p)| m == method && p.starts_with(path_prefix))
            })
            .count()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Forwards the server's answers to the client until `mute` is set: then
/// the next answer is dropped, and with it the connection.
async fn answers(
    mut server: tokio::net::tcp::OwnedReadHalf,
    mut client: tokio::net::tcp::OwnedWriteHalf,
    mute: &AtomicBool,
) {
    let mut tmp = vec![0u8; 64 * 1024];
    loop {
        match server.read(&mut tmp).await {
            Ok(0) | Err(_) => return,
            Ok(_) if mute.load(Ordering::SeqCst) => return,
            Ok(n) => {
                if client.write_all(&tmp[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Forwards requests from the client, counting (and maybe cutting) `PATCH`
/// bodies. Returns when either side closes or the cut happens.
async fn requests(
    mut client: tokio::net::tcp::OwnedReadHalf,
    mut server: tokio::net::tcp::OwnedWriteHalf,
    state: &State,
    mute: &AtomicBool,
) {
    let mut buf: Vec<u8> = Vec::new();
    let mut tmp = vec![0u8; 64 * 1024];
    loop {
        let head_end = loop {
            if let Some(pos) = find(&buf, b"\r\n\r\n") {
                break pos + 4;
            }
            match client.read(&mut tmp).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut parts = head.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let lower = head.to_ascii_lowercase();
        let length: u64 = lower
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let upgrade = lower.contains("upgrade: websocket");
        state
            .requests
            .lock()
            .unwrap()
            .push(format!("{method} {path}"));
        if server.write_all(&buf[..head_end]).await.is_err() {
            return;
        }
        buf.drain(..head_end);
        if upgrade {
            if server.write_all(&buf).await.is_err() {
                return;
            }
            let _ = tokio::io::copy(&mut client, &mut server).await;
            return;
        }
        let mut remaining = length;
        let counted = method == "PATCH";
        let lose_answer = counted
            && state
                .lose_answer_at
                .lock()
                .unwrap()
                .is_some_and(|at| state.patch_bytes.load(Ordering::SeqCst) + length >= at);
        while remaining > 0 {
            if buf.is_empty() {
                match client.read(&mut tmp).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&tmp[..n]),
                }
            }
            let take = remaining.min(buf.len() as u64);
            let mut allowed = take;
            if counted && let Some(limit) = *state.cut_at.lock().unwrap() {
                let sent = state.patch_bytes.load(Ordering::SeqCst);
                allowed = take.min(limit.saturating_sub(sent));
            }
            if server.write_all(&buf[..allowed as usize]).await.is_err() {
                return;
            }
            if counted {
                state.patch_bytes.fetch_add(allowed, Ordering::SeqCst);
            }
            if allowed < take {
                let _ = server.flush().await;
                *state.cut_at.lock().unwrap() = None;
                state.go_offline();
                return;
            }
            buf.drain(..take as usize);
            remaining -= take;
        }
        if lose_answer {
            *state.lose_answer_at.lock().unwrap() = None;
            mute.store(true, Ordering::SeqCst);
            // Offline for new connections; this one lives until the
            // server has answered (into the void).
            state.online.store(false, Ordering::SeqCst);
        }
    }
}
