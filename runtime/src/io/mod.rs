//! Async I/O helpers: the extension traits a tokio user reaches for.
//!
//! [`AsyncReadExt`] and [`AsyncWriteExt`] carry every method of the
//! `futures-util` traits of the same names (`read`, `read_exact`,
//! `write_all`, `close`, ...; they delegate to them and return the same
//! futures) plus what tokio's traits add:
//!
//! - `read_u8` .. `read_i128`, `read_f32`, `read_f64` and their `_le`
//!   forms; `write_u8` .. and `_le` (big-endian unless `_le`);
//! - [`AsyncWriteExt::shutdown`]: flush, then shut the write direction
//!   down (the same as `close`), so `stream.shutdown().await` reads as in
//!   tokio.
//!
//! Import these or `futures_util::io`'s traits of the same names, not both
//! (the method names would be ambiguous). [`copy_bidirectional`] copies
//! both ways between two streams.

mod copy_bidirectional;
mod int;

pub use copy_bidirectional::copy_bidirectional;
pub use int::{ReadInt, WriteInt};

use futures_io::{AsyncRead, AsyncWrite};
use futures_util::io::{
    Chain, Close, Flush, Read, ReadExact, ReadHalf, ReadToEnd, ReadToString, ReadVectored, Take, Write,
    WriteAll, WriteHalf, WriteVectored,
};
use std::io::{IoSlice, IoSliceMut};

/// `read_*` methods: `$name: $ty, $from, $bytes, $order, $write`.
macro_rules! read_ints {
    ($($name:ident: $ty:ty, $from:ident, $bytes:literal, $order:literal, $write:ident;)*) => {$(
        #[doc = concat!("Reads a `", stringify!($ty), "` (", $bytes, " bytes, ", $order, ").")]
        ///
        /// Fails with `UnexpectedEof` if the stream ends first.
        ///
        /// # Cancel safety
        ///
        /// Not cancel safe: the bytes of a partly read number are lost.
        ///
        /// ```
        /// # corral::Runtime::new().unwrap().block_on(async {
        /// use corral::io::{AsyncReadExt, AsyncWriteExt, Cursor};
        ///
        /// let mut buf = Cursor::new(Vec::new());
        #[doc = concat!("buf.", stringify!($write), "(", stringify!($ty), "::MAX).await?;")]
        /// buf.set_position(0);
        #[doc = concat!("assert_eq!(buf.", stringify!($name), "().await?, ", stringify!($ty), "::MAX);")]
        /// # Ok::<(), std::io::Error>(())
        /// # }).unwrap();
        /// ```
        fn $name(&mut self) -> ReadInt<'_, Self, $ty>
        where
            Self: Unpin,
        {
            ReadInt::new(self, $bytes, |b| {
                let mut a = [0; $bytes];
                a.copy_from_slice(b);
                <$ty>::$from(a)
            })
        }
    )*};
}

/// `write_*` methods: `$name: $ty, $to, $order, $read`.
macro_rules! write_ints {
    ($($name:ident: $ty:ty, $to:ident, $order:literal, $read:ident;)*) => {$(
        #[doc = concat!("Writes a `", stringify!($ty), "` (", $order, ").")]
        ///
        /// Fails with `WriteZero` if the writer stops taking bytes.
        ///
        /// # Cancel safety
        ///
        /// Not cancel safe: part of the number may have been written.
        ///
        /// ```
        /// # corral::Runtime::new().unwrap().block_on(async {
        /// use corral::io::{AsyncReadExt, AsyncWriteExt, Cursor};
        ///
        /// let mut buf = Cursor::new(Vec::new());
        #[doc = concat!("buf.", stringify!($name), "(", stringify!($ty), "::MIN).await?;")]
        /// buf.set_position(0);
        #[doc = concat!("assert_eq!(buf.", stringify!($read), "().await?, ", stringify!($ty), "::MIN);")]
        /// # Ok::<(), std::io::Error>(())
        /// # }).unwrap();
        /// ```
        fn $name(&mut self, n: $ty) -> WriteInt<'_, Self>
        where
            Self: Unpin,
        {
            WriteInt::new(self, &n.$to())
        }
    )*};
}

/// Reading from an [`AsyncRead`]: futures-util's `AsyncReadExt` methods
/// plus tokio's integer readers. Implemented for every `AsyncRead`.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::io::{AsyncReadExt, AsyncWriteExt};
/// use corral::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let mut client = TcpStream::connect(listener.local_addr()?).await?;
/// let (mut server, _) = listener.accept().await?;
/// client.write_u32(5).await?; // a length prefix
/// client.write_all(b"hello").await?;
/// let len = server.read_u32().await? as usize;
/// let mut body = vec![0; len];
/// server.read_exact(&mut body).await?;
/// assert_eq!(body, b"hello");
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub trait AsyncReadExt: AsyncRead {
    /// Reads from `self` until it ends, then from `next`.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::{AsyncReadExt, Cursor};
    ///
    /// let mut both = Cursor::new(&b"ab"[..]).chain(Cursor::new(&b"cd"[..]));
    /// let mut s = String::new();
    /// both.read_to_string(&mut s).await?;
    /// assert_eq!(s, "abcd");
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    fn chain<R: AsyncRead>(self, next: R) -> Chain<Self, R>
    where
        Self: Sized,
    {
        futures_util::io::AsyncReadExt::chain(self, next)
    }

    /// Reads some bytes into `buf`; `Ok(0)` is end-of-file (or an empty
    /// `buf`).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if it is dropped before completing, nothing was read.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::{AsyncReadExt, Cursor};
    ///
    /// let mut r = Cursor::new(&b"abc"[..]);
    /// let mut buf = [0; 8];
    /// assert_eq!(r.read(&mut buf).await?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    fn read<'a>(&'a mut self, buf: &'a mut [u8]) -> Read<'a, Self>
    where
        Self: Unpin,
    {
        futures_util::io::AsyncReadExt::read(self, buf)
    }

    /// Reads some bytes into `bufs`, in order.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`read`](Self::read).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::{AsyncReadExt, Cursor};
    /// use std::io::IoSliceMut;
    ///
    /// let mut r = Cursor::new(&b"abcd"[..]);
    /// let (mut a, mut b) = ([0; 2], [0; 2]);
    /// let n = r.read_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)]).await?;
    /// assert_eq!((n, &a, &b), (4, b"ab", b"cd"));
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    fn read_vectored<'a>(&'a mut self, bufs: &'a mut [IoSliceMut<'a>]) -> ReadVectored<'a, Self>
    where
        Self: Unpin,
    {
        futures_util::io::AsyncReadExt::read_vectored(self, bufs)
    }

    /// Fills `buf` exactly; `UnexpectedEof` if the stream ends first.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: bytes read before the drop are lost.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::{AsyncReadExt, Cursor};
    ///
    /// let mut r = Cursor::new(&b"abc"[..]);
    /// let mut buf = [0; 2];
    /// r.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"ab");
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    fn read_exact<'a>(&'a mut self, buf: &'a mut [u8]) -> ReadExact<'a, Self>
    where
        Self: Unpin,
    {
        futures_util::io::AsyncReadExt::read_exact(self, buf)
    }

    /// Reads until end-of-file, appending to `buf`; returns how many bytes
    /// it read.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe in the sense that what was read is in `buf`.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::{AsyncReadExt, Cursor};
    ///
    /// let mut buf = Vec::new();
    /// assert_eq!(Cursor::new(&b"abc"[..]).read_to_end(&mut buf).await?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    fn read_to_end<'a>(&'a mut self, buf: &'a mut Vec<u8>) -> ReadToEnd<'a, Self>
    where
        Self: Unpin,
    {
        futures_util::io::AsyncReadExt::read_to_end(self, buf)
    }

    /// Reads until end-of-file, appending UTF-8 text to `buf`
    /// (`InvalidData` if it is not UTF-8).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: text read before the drop may be lost.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::{AsyncReadExt, Cursor};
    ///
    /// let mut s = String::new();
    /// Cursor::new(&b"abc"[..]).read_to_string(&mut s).await?;
    /// assert_eq!(s, "abc");
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    fn read_to_string<'a>(&'a mut self, buf: &'a mut String) -> ReadToString<'a, Self>
    where
        Self: Unpin,
    {
        futures_util::io::AsyncReadExt::read_to_string(self, buf)
    }

    /// Splits a reader-writer into halves that share it behind a lock.
    /// (For corral's sockets prefer their own `split` / `into_split`.)
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::{AsyncReadExt, Cursor};
    ///
    /// let (mut rd, _wr) = Cursor::new(b"abc".to_vec()).split();
    /// let mut buf = Vec::new();
    /// rd.read_to_end(&mut buf).await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    fn split(self) -> (ReadHalf<Self>, WriteHalf<Self>)
    where
        Self: AsyncWrite + Sized,
    {
        futures_util::io::AsyncReadExt::split(self)
    }

    /// A reader that ends after `limit` bytes.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::{AsyncReadExt, Cursor};
    ///
    /// let mut s = String::new();
    /// Cursor::new(&b"abcdef"[..]).take(2).read_to_string(&mut s).await?;
    /// assert_eq!(s, "ab");
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    fn take(self, limit: u64) -> Take<Self>
    where
        Self: Sized,
    {
        futures_util::io::AsyncReadExt::take(self, limit)
    }

    read_ints! {
        read_u8: u8, from_be_bytes, 1, "one byte", write_u8;
        read_i8: i8, from_be_bytes, 1, "one byte", write_i8;
        read_u16: u16, from_be_bytes, 2, "big-endian", write_u16;
        read_i16: i16, from_be_bytes, 2, "big-endian", write_i16;
        read_u32: u32, from_be_bytes, 4, "big-endian", write_u32;
        read_i32: i32, from_be_bytes, 4, "big-endian", write_i32;
        read_u64: u64, from_be_bytes, 8, "big-endian", write_u64;
        read_i64: i64, from_be_bytes, 8, "big-endian", write_i64;
        read_u128: u128, from_be_bytes, 16, "big-endian", write_u128;
        read_i128: i128, from_be_bytes, 16, "big-endian", write_i128;
        read_f32: f32, from_be_bytes, 4, "big-endian", write_f32;
        read_f64: f64, from_be_bytes, 8, "big-endian", write_f64;
        read_u16_le: u16, from_le_bytes, 2, "little-endian", write_u16_le;
        read_i16_le: i16, from_le_bytes, 2, "little-endian", write_i16_le;
        read_u32_le: u32, from_le_bytes, 4, "little-endian", write_u32_le;
        read_i32_le: i32, from_le_bytes, 4, "little-endian", write_i32_le;
        read_u64_le: u64, from_le_bytes, 8, "little-endian", write_u64_le;
        read_i64_le: i64, from_le_bytes, 8, "little-endian", write_i64_le;
        read_u128_le: u128, from_le_bytes, 16, "little-endian", write_u128_le;
        read_i128_le: i128, from_le_bytes, 16, "little-endian", write_i128_le;
        read_f32_le: f32, from_le_bytes, 4, "little-endian", write_f32_le;
        read_f64_le: f64, from_le_bytes, 8, "little-endian", write_f64_le;
    }
}

impl<R: AsyncRead + ?Sized> AsyncReadExt for R {}

/// Writing to an [`AsyncWrite`]: futures-util's `AsyncWriteExt` methods
/// plus tokio's `shutdown` and integer writers. Implemented for every
/// `AsyncWrite`.
///
/// ```
/// # corral::Runtime::new().unwrap().block_on(async {
/// use corral::io::{AsyncReadExt, AsyncWriteExt};
/// use corral::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let mut client = TcpStream::connect(listener.local_addr()?).await?;
/// let (mut server, _) = listener.accept().await?;
/// client.write_u16_le(0xabcd).await?;
/// client.shutdown().await?; // the server reads end-of-file after it
/// assert_eq!(server.read_u16_le().await?, 0xabcd);
/// assert_eq!(server.read(&mut [0; 8]).await?, 0);
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub trait AsyncWriteExt: AsyncWrite {
    /// Flushes what the writer buffers.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: flush again later.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::{AsyncWriteExt, BufWriter, Cursor};
    ///
    /// let mut w = BufWriter::new(Cursor::new(Vec::new()));
    /// w.write_all(b"abc").await?;
    /// w.flush().await?;
    /// assert_eq!(w.get_ref().get_ref(), b"abc");
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    fn flush(&mut self) -> Flush<'_, Self>
    where
        Self: Unpin,
    {
        futures_util::io::AsyncWriteExt::flush(self)
    }

    /// Flushes and closes the writer: for a socket, shuts the write
    /// direction down (the peer reads end-of-file). The same as
    /// [`shutdown`](Self::shutdown).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: close again later.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::{AsyncWriteExt, Cursor};
    ///
    /// let mut w = Cursor::new(Vec::new());
    /// w.close().await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    fn close(&mut self) -> Close<'_, Self>
    where
        Self: Unpin,
    {
        futures_util::io::AsyncWriteExt::close(self)
    }

    /// Flushes, then shuts the write direction down: tokio's spelling of
    /// [`close`](Self::close) (`AsyncWrite::poll_close`). The peer of a
    /// socket reads end-of-file; reading this side goes on. (To shut down
    /// the read side or both, use the socket's `shutdown_with`.)
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: shut down again later.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::{AsyncReadExt, AsyncWriteExt};
    /// use corral::net::UnixStream;
    ///
    /// let (a, mut b) = UnixStream::pair()?;
    /// let (_rd, mut wr) = a.into_split();
    /// wr.write_all(b"bye").await?;
    /// wr.shutdown().await?; // on a write half too
    /// let mut got = String::new();
    /// b.read_to_string(&mut got).await?;
    /// assert_eq!(got, "bye");
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    fn shutdown(&mut self) -> Close<'_, Self>
    where
        Self: Unpin,
    {
        futures_util::io::AsyncWriteExt::close(self)
    }

    /// Writes some of `buf`; returns how much.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if it is dropped before completing, nothing was
    /// written.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::{AsyncWriteExt, Cursor};
    ///
    /// let mut w = Cursor::new(Vec::new());
    /// assert_eq!(w.write(b"abc").await?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    fn write<'a>(&'a mut self, buf: &'a [u8]) -> Write<'a, Self>
    where
        Self: Unpin,
    {
        futures_util::io::AsyncWriteExt::write(self, buf)
    }

    /// Writes some of `bufs`, in order; returns how much.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`write`](Self::write).
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::{AsyncWriteExt, Cursor};
    /// use std::io::IoSlice;
    ///
    /// let mut w = Cursor::new(Vec::new());
    /// let n = w.write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b"cd")]).await?;
    /// assert_eq!(n, 4);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    fn write_vectored<'a>(&'a mut self, bufs: &'a [IoSlice<'a>]) -> WriteVectored<'a, Self>
    where
        Self: Unpin,
    {
        futures_util::io::AsyncWriteExt::write_vectored(self, bufs)
    }

    /// Writes all of `buf`.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: part of `buf` may have been written.
    ///
    /// ```
    /// # corral::Runtime::new().unwrap().block_on(async {
    /// use corral::io::{AsyncWriteExt, Cursor};
    ///
    /// let mut w = Cursor::new(Vec::new());
    /// w.write_all(b"abc").await?;
    /// assert_eq!(w.get_ref(), b"abc");
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    fn write_all<'a>(&'a mut self, buf: &'a [u8]) -> WriteAll<'a, Self>
    where
        Self: Unpin,
    {
        futures_util::io::AsyncWriteExt::write_all(self, buf)
    }

    write_ints! {
        write_u8: u8, to_be_bytes, "one byte", read_u8;
        write_i8: i8, to_be_bytes, "one byte", read_i8;
        write_u16: u16, to_be_bytes, "big-endian", read_u16;
        write_i16: i16, to_be_bytes, "big-endian", read_i16;
        write_u32: u32, to_be_bytes, "big-endian", read_u32;
        write_i32: i32, to_be_bytes, "big-endian", read_i32;
        write_u64: u64, to_be_bytes, "big-endian", read_u64;
        write_i64: i64, to_be_bytes, "big-endian", read_i64;
        write_u128: u128, to_be_bytes, "big-endian", read_u128;
        write_i128: i128, to_be_bytes, "big-endian", read_i128;
        write_f32: f32, to_be_bytes, "big-endian", read_f32;
        write_f64: f64, to_be_bytes, "big-endian", read_f64;
        write_u16_le: u16, to_le_bytes, "little-endian", read_u16_le;
        write_i16_le: i16, to_le_bytes, "little-endian", read_i16_le;
        write_u32_le: u32, to_le_bytes, "little-endian", read_u32_le;
        write_i32_le: i32, to_le_bytes, "little-endian", read_i32_le;
        write_u64_le: u64, to_le_bytes, "little-endian", read_u64_le;
        write_i64_le: i64, to_le_bytes, "little-endian", read_i64_le;
        write_u128_le: u128, to_le_bytes, "little-endian", read_u128_le;
        write_i128_le: i128, to_le_bytes, "little-endian", read_i128_le;
        write_f32_le: f32, to_le_bytes, "little-endian", read_f32_le;
        write_f64_le: f64, to_le_bytes, "little-endian", read_f64_le;
    }
}

impl<W: AsyncWrite + ?Sized> AsyncWriteExt for W {}
