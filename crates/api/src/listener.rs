//! The listening socket, with problem bodies for the requests hyper refuses
//! before any service sees them.
//!
//! hyper answers a request line it cannot parse itself: 400, 414 for a
//! target over 64 KiB (the `http` crate's hard limit), 431 for headers over
//! its buffer. Those answers have an empty body, so a client gets no
//! problem+json to read. Each connection's writes pass through
//! [`ProblemIo`], which swaps exactly such an answer (one of those statuses
//! with `content-length: 0`; the API's own errors always carry a body) for
//! the same head with a problem document.

use crate::problem::{Problem, PROBLEM_JSON};
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::serve::{IncomingStream, Listener};
use axum::{Extension, Router};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Serves `router` on `listener` until `shutdown` resolves, then lets
/// in-flight requests finish. Handlers read the peer's address as
/// `ConnectInfo<SocketAddr>`.
pub fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = io::Result<()>> + Send {
    let connections = tower::service_fn(move |conn: IncomingStream<'_, ProblemListener>| {
        let service =
            tower::Layer::layer(&Extension(ConnectInfo(*conn.remote_addr())), router.clone());
        async move { Ok::<_, Infallible>(service) }
    });
    let served =
        axum::serve(ProblemListener(listener), connections).with_graceful_shutdown(shutdown);
    std::future::IntoFuture::into_future(served)
}

/// A TCP listener whose connections are [`ProblemIo`]s.
pub struct ProblemListener(TcpListener);

impl ProblemListener {
    /// Wraps a bound listener.
    pub fn new(listener: TcpListener) -> Self {
        Self(listener)
    }
}

impl Listener for ProblemListener {
    type Io = ProblemIo<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = Listener::accept(&mut self.0).await;
        (ProblemIo::new(io), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A connection whose bodiless parse-error answers get a problem body.
pub struct ProblemIo<T> {
    io: T,
    /// A replacement being written: its bytes, how many are out, and how
    /// many bytes of hyper's buffer it stands for.
    swap: Option<(Vec<u8>, usize, usize)>,
}

impl<T> ProblemIo<T> {
    /// Wraps a connection.
    pub fn new(io: T) -> Self {
        Self { io, swap: None }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ProblemIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ProblemIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.swap.is_none() {
            match with_problem_body(buf) {
                Some(bytes) => this.swap = Some((bytes, 0, buf.len())),
                None => return Pin::new(&mut this.io).poll_write(cx, buf),
            }
        }
        let (bytes, written, stands_for) = this.swap.as_mut().expect("set above");
        while *written < bytes.len() {
            let n = ready!(Pin::new(&mut this.io).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        let stands_for = *stands_for;
        this.swap = None;
        Poll::Ready(Ok(stands_for))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    // hyper writes a response's head and body as two slices; its own
    // parse-error answer is a head alone, which is all the swap looks at.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut filled = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next()) {
            if self.swap.is_some() || with_problem_body(only).is_some() {
                return self.poll_write(cx, only);
            }
        }
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// The response in `buf` with a problem body, if `buf` is exactly one of
/// hyper's bodiless parse-error answers.
fn with_problem_body(buf: &[u8]) -> Option<Vec<u8>> {
    let rest = buf.strip_prefix(b"HTTP/1.1 ")?;
    let (status, detail) = match rest.get(..4)? {
        b"400 " => (
            StatusCode::BAD_REQUEST,
            "the request line or a header is malformed",
        ),
        b"414 " => (
            StatusCode::URI_TOO_LONG,
            "the request target is longer than the server reads (64 KiB); send long input in the body of a POST",
        ),
        b"431 " => (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "the request headers are larger than the server reads",
        ),
        _ => return None,
    };
    let head = std::str::from_utf8(buf.strip_suffix(b"\r\n\r\n")?).ok()?;
    if head.contains("\r\n\r\n") {
        return None;
    }
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut bodiless = false;
    let mut kept = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        if name.eq_ignore_ascii_case("content-length") {
            bodiless = value.trim() == "0";
        } else {
            kept.push(line);
        }
    }
    if !bodiless {
        return None;
    }
    let slug = match status {
        StatusCode::URI_TOO_LONG => "uri-too-long",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "headers-too-large",
        _ => "malformed-request",
    };
    let title = status.canonical_reason().unwrap_or("Error");
    let body = serde_json::to_vec(&Problem::new(status, slug, title, detail))
        .expect("a problem always serializes");
    let mut out = Vec::with_capacity(head.len() + body.len() + 96);
    out.extend_from_slice(status_line.as_bytes());
    for line in kept {
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(line.as_bytes());
    }
    out.extend_from_slice(
        format!(
            "\r\ncontent-type: {PROBLEM_JSON}\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&body);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bodiless_414_gets_a_problem_body() {
        let out = with_problem_body(
            b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Mon, 07 Dec 2026 12:00:00 GMT\r\n\r\n",
        )
        .expect("swapped");
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains("date: Mon, 07 Dec 2026"), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let p: Problem = serde_json::from_str(body).unwrap();
        assert_eq!((p.status, p.title.as_str()), (414, "URI Too Long"));
    }

    #[test]
    fn a_response_with_a_body_is_left_alone() {
        assert!(with_problem_body(
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: 80\r\n\r\n"
        )
        .is_none());
    }

    #[test]
    fn a_success_is_left_alone() {
        assert!(with_problem_body(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
    }
}
