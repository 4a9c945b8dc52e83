//! [`copy_bidirectional`]: a proxy's inner loop.

use futures_io::{AsyncRead, AsyncWrite};
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

const BUF_SIZE: usize = 8 * 1024;

/// Copies from `a` to `b` and from `b` to `a` at once, until both
/// directions have reached end-of-file; returns the bytes copied
/// `(a to b, b to a)`.
///
/// When one side's read reaches end-of-file, what was read is flushed and
/// the other side's write direction is shut down (`poll_close`), so the
/// half-close travels through; the other direction goes on. An error in
/// either direction ends the whole copy with that error.
///
/// # Cancel safety
///
/// Not cancel safe: bytes read from one side and not yet written to the
/// other are lost.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::io::{copy_bidirectional, AsyncReadExt, AsyncWriteExt};
/// use corral::net::UnixStream;
///
/// // client <-> (a | proxy | b) <-> server
/// let (mut client, mut a) = UnixStream::pair()?;
/// let (mut b, mut server) = UnixStream::pair()?;
/// let proxy = corral::spawn(async move { copy_bidirectional(&mut a, &mut b).await });
/// client.write_all(b"request").await?;
/// client.shutdown().await?;
/// let mut req = String::new();
/// server.read_to_string(&mut req).await?; // the half-close came through
/// server.write_all(b"response").await?;
/// server.shutdown().await?;
/// let mut resp = String::new();
/// client.read_to_string(&mut resp).await?;
/// assert_eq!((req.as_str(), resp.as_str()), ("request", "response"));
/// assert_eq!(proxy.await??, (7, 8));
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub async fn copy_bidirectional<A, B>(a: &mut A, b: &mut B) -> io::Result<(u64, u64)>
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let mut a_to_b = Direction::Copying(CopyBuf::new());
    let mut b_to_a = Direction::Copying(CopyBuf::new());
    poll_fn(|cx| {
        let ab = a_to_b.poll(cx, &mut *a, &mut *b)?;
        let ba = b_to_a.poll(cx, &mut *b, &mut *a)?;
        match (ab, ba) {
            (Poll::Ready(ab), Poll::Ready(ba)) => Poll::Ready(Ok((ab, ba))),
            _ => Poll::Pending,
        }
    })
    .await
}

enum Direction {
    Copying(CopyBuf),
    ShuttingDown(u64),
    Done(u64),
}

impl Direction {
    fn poll<R, W>(&mut self, cx: &mut Context<'_>, r: &mut R, w: &mut W) -> Poll<io::Result<u64>>
    where
        R: AsyncRead + Unpin + ?Sized,
        W: AsyncWrite + Unpin + ?Sized,
    {
        loop {
            match self {
                Direction::Copying(buf) => {
                    let n = ready!(buf.poll_copy(cx, r, w))?;
                    *self = Direction::ShuttingDown(n);
                }
                Direction::ShuttingDown(n) => {
                    ready!(Pin::new(&mut *w).poll_close(cx))?;
                    *self = Direction::Done(*n);
                }
                Direction::Done(n) => return Poll::Ready(Ok(*n)),
            }
        }
    }
}

struct CopyBuf {
    buf: Box<[u8]>,
    pos: usize,
    cap: usize,
    read_done: bool,
    need_flush: bool,
    amt: u64,
}

impl CopyBuf {
    fn new() -> Self {
        CopyBuf {
            buf: vec![0; BUF_SIZE].into_boxed_slice(),
            pos: 0,
            cap: 0,
            read_done: false,
            need_flush: false,
            amt: 0,
        }
    }

    /// Copies until `r` ends and everything is written and flushed.
    fn poll_copy<R, W>(&mut self, cx: &mut Context<'_>, r: &mut R, w: &mut W) -> Poll<io::Result<u64>>
    where
        R: AsyncRead + Unpin + ?Sized,
        W: AsyncWrite + Unpin + ?Sized,
    {
        loop {
            if self.pos == self.cap && !self.read_done {
                match Pin::new(&mut *r).poll_read(cx, &mut self.buf) {
                    Poll::Ready(Ok(0)) => self.read_done = true,
                    Poll::Ready(Ok(n)) => {
                        self.pos = 0;
                        self.cap = n;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {
                        // Nothing to read now: push out what was written
                        // before waiting.
                        if self.need_flush {
                            ready!(Pin::new(&mut *w).poll_flush(cx))?;
                            self.need_flush = false;
                        }
                        return Poll::Pending;
                    }
                }
            }
            while self.pos < self.cap {
                let n = ready!(Pin::new(&mut *w).poll_write(cx, &self.buf[self.pos..self.cap]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "copy_bidirectional: the writer took no bytes",
                    )));
                }
                self.pos += n;
                self.amt += n as u64;
                self.need_flush = true;
            }
            if self.read_done {
                ready!(Pin::new(&mut *w).poll_flush(cx))?;
                return Poll::Ready(Ok(self.amt));
            }
        }
    }
}
