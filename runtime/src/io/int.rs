//! The futures of `read_u32` and friends.

use futures_io::{AsyncRead, AsyncWrite};
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// The future of [`AsyncReadExt::read_u32`](super::AsyncReadExt::read_u32)
/// and the other integer readers: reads a fixed number of bytes and
/// decodes them.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::io::{AsyncReadExt, Cursor, ReadInt};
///
/// let mut r = Cursor::new(vec![0, 0, 1, 0]);
/// let fut: ReadInt<'_, _, u32> = r.read_u32();
/// assert_eq!(fut.await?, 256);
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct ReadInt<'a, R: ?Sized, T> {
    reader: &'a mut R,
    buf: [u8; 16],
    len: u8,
    filled: u8,
    decode: fn(&[u8]) -> T,
}

impl<'a, R: ?Sized, T> ReadInt<'a, R, T> {
    pub(super) fn new(reader: &'a mut R, len: u8, decode: fn(&[u8]) -> T) -> Self {
        ReadInt {
            reader,
            buf: [0; 16],
            len,
            filled: 0,
            decode,
        }
    }
}

impl<R: AsyncRead + Unpin + ?Sized, T> Future for ReadInt<'_, R, T> {
    type Output = io::Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let this = self.get_mut();
        let len = this.len as usize;
        while (this.filled as usize) < len {
            let buf = &mut this.buf[this.filled as usize..len];
            let n = ready!(Pin::new(&mut *this.reader).poll_read(cx, buf))?;
            if n == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the stream ended {} bytes into a {len}-byte number", this.filled),
                )));
            }
            this.filled += n as u8;
        }
        Poll::Ready(Ok((this.decode)(&this.buf[..len])))
    }
}

impl<R: ?Sized, T> fmt::Debug for ReadInt<'_, R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadInt")
            .field("len", &self.len)
            .field("filled", &self.filled)
            .finish()
    }
}

/// The future of [`AsyncWriteExt::write_u32`](super::AsyncWriteExt::write_u32)
/// and the other integer writers: writes the encoded bytes.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::io::{AsyncWriteExt, Cursor, WriteInt};
///
/// let mut w = Cursor::new(Vec::new());
/// let fut: WriteInt<'_, _> = w.write_u32(256);
/// fut.await?;
/// assert_eq!(w.get_ref(), &[0, 0, 1, 0]);
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct WriteInt<'a, W: ?Sized> {
    writer: &'a mut W,
    buf: [u8; 16],
    len: u8,
    written: u8,
}

impl<'a, W: ?Sized> WriteInt<'a, W> {
    pub(super) fn new(writer: &'a mut W, bytes: &[u8]) -> Self {
        let mut buf = [0; 16];
        buf[..bytes.len()].copy_from_slice(bytes);
        WriteInt {
            writer,
            buf,
            len: bytes.len() as u8,
            written: 0,
        }
    }
}

impl<W: AsyncWrite + Unpin + ?Sized> Future for WriteInt<'_, W> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while this.written < this.len {
            let buf = &this.buf[this.written as usize..this.len as usize];
            let n = ready!(Pin::new(&mut *this.writer).poll_write(cx, buf))?;
            if n == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "the writer took no bytes of a number",
                )));
            }
            this.written += n as u8;
        }
        Poll::Ready(Ok(()))
    }
}

impl<W: ?Sized> fmt::Debug for WriteInt<'_, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteInt")
            .field("len", &self.len)
            .field("written", &self.written)
            .finish()
    }
}
