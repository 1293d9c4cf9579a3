//! A TCP forwarder that can be cut and restored, to take a real database
//! "down" and bring it back while the app keeps running.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Forwards `127.0.0.1:port()` to a target while up.
pub struct TcpProxy {
    port: u16,
    up: Arc<AtomicBool>,
    stalled: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
}

impl TcpProxy {
    /// Starts forwarding to `target` (`host:port`).
    pub async fn start(target: String) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let up = Arc::new(AtomicBool::new(true));
        let stalled = Arc::new(AtomicBool::new(false));
        let (cut, _) = watch::channel(0u64);
        let (up2, cut2, stalled2) = (up.clone(), cut.clone(), stalled.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                if stalled2.load(Ordering::SeqCst) {
                    // Accepted, then silence: the client waits for an answer.
                    let stalled = stalled2.clone();
                    tokio::spawn(async move {
                        let _held = inbound;
                        while stalled.load(Ordering::SeqCst) {
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        }
                    });
                    continue;
                }
                let target = target.clone();
                let mut cut_rx = cut2.subscribe();
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        tokio::select! {
                            _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = cut_rx.changed() => {}
                        }
                    }
                });
            }
        });
        Ok(Self {
            port,
            up,
            stalled,
            cut,
        })
    }

    /// The local port to connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Drops every open connection and refuses new ones.
    pub fn take_down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    /// Accepts connections again (and ends a stall).
    pub fn bring_up(&self) {
        self.stalled.store(false, Ordering::SeqCst);
        self.up.store(true, Ordering::SeqCst);
    }

    /// Drops every open connection and accepts new ones without ever
    /// answering: a server that hangs rather than one that is down.
    pub fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }
}
