//! A loopback TCP forwarder whose upstream can be moved: the one address
//! the server connects to, as a failover manager's virtual IP (or a DNS name
//! it moves, or PgBouncer) is in production. Moving it drops every
//! connection it carries, as a primary's death does.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

#[derive(Debug)]
struct Target {
    upstream: SocketAddr,
    connections: Vec<AbortHandle>,
}

/// The forwarder; dropped, it stops and drops what it carries.
#[derive(Debug)]
pub struct TcpSwitch {
    pub addr: SocketAddr,
    target: Arc<Mutex<Target>>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpSwitch {
    /// Listens on `127.0.0.1:0` and forwards every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let target = Arc::new(Mutex::new(Target {
            upstream,
            connections: Vec::new(),
        }));
        let shared = Arc::clone(&target);
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                // Under one lock: a switch cannot fall between reading the
                // upstream and registering the connection.
                let mut target = shared.lock().unwrap();
                let upstream = target.upstream;
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                target.connections.retain(|c| !c.is_finished());
                target.connections.push(pipe.abort_handle());
            }
        });
        Self { addr, target, task }
    }

    /// Sends new connections to `upstream` and drops every current one.
    pub fn switch_to(&self, upstream: SocketAddr) {
        let mut target = self.target.lock().unwrap();
        target.upstream = upstream;
        for connection in target.connections.drain(..) {
            connection.abort();
        }
    }
}

impl Drop for TcpSwitch {
    fn drop(&mut self) {
        self.task.abort();
        for connection in self.target.lock().unwrap().connections.drain(..) {
            connection.abort();
        }
    }
}
