//! ConnectivityCore.establish_native_rust: a TCP connection multiplexing logical streams
//! over binary_transport frames, without Python types.
//!
//! Handshake (before any frame): the client sends `b"PYAC"`, then the lowest and highest
//! protocol versions it speaks (u16 big-endian each); the server answers `b"PYAC"` and the
//! version chosen (u16; 0 = no common version, after which it closes). Both sides speak
//! version 1. Then each side sends frames; stream id `u32::MAX` is the control stream,
//! whose MessagePack payloads are `[0, token]` (ping), `[1, token]` (pong) and `[2]` (close).
//!
//! A reader thread per connection splits incoming frames and queues payloads per stream
//! and in arrival order; receiving waits on a condition variable with a deadline. Payloads
//! stay MessagePack bytes here: the binding turns them into Python objects.
//!
//! The reader never writes. It hands ping tokens to a pong thread (started at the first
//! ping), because a reader that wrote its pongs itself would wait for the send lock, held by
//! a sender that waits for the peer to read, whose reader may be waiting the same way: with
//! both sides sending and pinging, every thread would stop. A reader that only reads always
//! drains its socket, so every sender eventually moves.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::{CStr, CString};
use std::io::{self, Read, Write};
use std::net::{
    Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener, TcpStream,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::net::transport::{seal, FrameBuffer, Reader, Token, HEADER_LEN};

pub const HELLO_MAGIC: [u8; 4] = *b"PYAC";
pub const PROTOCOL_VERSION: u16 = 1;
pub const CONTROL_STREAM: u32 = u32::MAX;
const PING: u64 = 0;
const PONG: u64 = 1;
const CLOSE: u64 = 2;
const READ_CHUNK: usize = 256 * 1024;
/// How long `close` waits for a sender to finish its frame before cutting the socket under
/// it (a peer that stopped reading would otherwise hold `close` for ever).
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// The bound on writing the close frame itself, for the same reason.
const CLOSE_WRITE_TIMEOUT: Duration = Duration::from_millis(200);

/// Why a call on a connection failed.
#[derive(Debug)]
pub enum ConnError {
    /// The deadline passed (Python: TimeoutError).
    Timeout(String),
    /// The peer or this side closed the connection (Python: ConnectionClosedError).
    Closed(String),
    /// The peer sent something that is not this protocol (Python: ProtocolError).
    Protocol(String),
    /// The operating system refused (Python: the OSError subclass of the errno).
    Io(io::Error),
    /// `getaddrinfo` failed with this `EAI_*` code and message (Python: socket.gaierror).
    Resolve(i32, String),
}

fn io_error(err: io::Error, what: &str) -> ConnError {
    match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            ConnError::Timeout(format!("{what} timed out"))
        }
        io::ErrorKind::UnexpectedEof => ConnError::Closed(format!("peer closed during {what}")),
        _ => ConnError::Io(err),
    }
}

#[derive(Debug, Clone)]
enum End {
    Closed(String),
    Protocol(String),
}

/// A message received: its MessagePack payload and the bytes it took on the wire (its
/// decode budget, `transport::frame_object_budget`, is counted from those).
#[derive(Debug)]
pub struct Received {
    pub payload: Vec<u8>,
    pub wire_len: usize,
}

#[derive(Default)]
struct Inbox {
    streams: HashMap<u32, VecDeque<Received>>,
    order: VecDeque<u32>,
    skip: HashMap<u32, usize>,
    pongs: HashSet<u64>,
    end: Option<End>,
}

struct Shared {
    inbox: Mutex<Inbox>,
    ready: Condvar,
    // The pong thread, once a ping has arrived; joined by `close`.
    ponger: Mutex<Option<JoinHandle<()>>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inbox> {
        // A panic while holding the lock cannot leave the queues inconsistent (each update is
        // a single push or pop), so a poisoned lock is still usable.
        self.inbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn finish(&self, end: End) {
        let mut inbox = self.lock();
        if inbox.end.is_none() {
            inbox.end = Some(end);
        }
        drop(inbox);
        self.ready.notify_all();
    }
}

fn end_error(end: &End) -> ConnError {
    match end {
        End::Closed(message) => ConnError::Closed(message.clone()),
        End::Protocol(message) => ConnError::Protocol(message.clone()),
    }
}

/// A control frame `[kind, token]` (or `[kind]` when `token` is None).
pub fn control_frame(kind: u64, token: Option<u64>) -> Vec<u8> {
    let mut buf = vec![0u8; HEADER_LEN];
    let len = if token.is_some() { 2 } else { 1 };
    let _ = rmp::encode::write_array_len(&mut buf, len);
    let _ = rmp::encode::write_uint(&mut buf, kind);
    if let Some(token) = token {
        let _ = rmp::encode::write_uint(&mut buf, token);
    }
    // Never above the threshold, so never compressed; sealing cannot fail.
    seal(buf, CONTROL_STREAM, u64::MAX, 1).unwrap_or_default()
}

fn parse_control(payload: &[u8]) -> Option<(u64, Option<u64>)> {
    let mut reader = Reader::new(payload);
    let n = match reader.next_token().ok()? {
        Token::Array(n) if (1..=2).contains(&n) => n,
        _ => return None,
    };
    let Token::UInt(kind) = reader.next_token().ok()? else {
        return None;
    };
    let token = if n == 2 {
        match reader.next_token().ok()? {
            Token::UInt(t) => Some(t),
            _ => return None,
        }
    } else {
        None
    };
    reader.finish().ok()?;
    Some((kind, token))
}

fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}

/// One side of an established connection.
pub struct Connection {
    // Shared with the pong thread: one lock keeps frames whole.
    writer: Arc<Mutex<TcpStream>>,
    // The same socket, for `close` to shut down without the writer lock.
    cutter: TcpStream,
    shared: Arc<Shared>,
    reader: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
    next_token: AtomicU64,
    peer: SocketAddr,
}

impl Connection {
    fn start(stream: TcpStream, max_frame_size: u64) -> Result<Connection, ConnError> {
        stream.set_read_timeout(None).map_err(ConnError::Io)?;
        stream.set_write_timeout(None).map_err(ConnError::Io)?;
        let _ = stream.set_nodelay(true);
        let peer = stream.peer_addr().map_err(ConnError::Io)?;
        let shared = Arc::new(Shared {
            inbox: Mutex::new(Inbox::default()),
            ready: Condvar::new(),
            ponger: Mutex::new(None),
        });
        let read_side = stream.try_clone().map_err(ConnError::Io)?;
        let cutter = stream.try_clone().map_err(ConnError::Io)?;
        let writer = Arc::new(Mutex::new(stream));
        let pong_side = Arc::clone(&writer);
        let thread_shared = Arc::clone(&shared);
        let reader = std::thread::Builder::new()
            .name("pyagent-conn-reader".into())
            .spawn(move || read_loop(read_side, pong_side, thread_shared, max_frame_size))
            .map_err(ConnError::Io)?;
        Ok(Connection {
            writer,
            cutter,
            shared,
            reader: Mutex::new(Some(reader)),
            closed: AtomicBool::new(false),
            next_token: AtomicU64::new(1),
            peer,
        })
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    fn check_open(&self) -> Result<(), ConnError> {
        if self.is_closed() {
            return Err(ConnError::Closed("connection is closed".into()));
        }
        Ok(())
    }

    /// Writes one whole frame (from `transport::seal`).
    pub fn send_frame(&self, frame: &[u8]) -> Result<(), ConnError> {
        self.check_open()?;
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        writer
            .write_all(frame)
            .map_err(|err| ConnError::Closed(format!("send failed: {err}")))
    }

    /// The next message of any stream, in arrival order.
    pub fn recv(&self, timeout: Option<Duration>) -> Result<(u32, Received), ConnError> {
        self.check_open()?;
        let until = deadline(timeout);
        let mut inbox = self.shared.lock();
        loop {
            while let Some(id) = inbox.order.pop_front() {
                if let Some(skip) = inbox.skip.get_mut(&id) {
                    if *skip > 0 {
                        *skip -= 1;
                        continue;
                    }
                }
                if let Some(payload) = inbox.streams.get_mut(&id).and_then(VecDeque::pop_front) {
                    return Ok((id, payload));
                }
            }
            inbox = self.wait(inbox, until)?;
        }
    }

    /// The next message of stream `id`.
    pub fn recv_stream(&self, id: u32, timeout: Option<Duration>) -> Result<Received, ConnError> {
        self.check_open()?;
        let until = deadline(timeout);
        let mut inbox = self.shared.lock();
        loop {
            if let Some(payload) = inbox.streams.get_mut(&id).and_then(VecDeque::pop_front) {
                *inbox.skip.entry(id).or_insert(0) += 1;
                return Ok(payload);
            }
            inbox = self.wait(inbox, until)?;
        }
    }

    fn wait<'a>(
        &self,
        inbox: MutexGuard<'a, Inbox>,
        until: Option<Instant>,
    ) -> Result<MutexGuard<'a, Inbox>, ConnError> {
        if let Some(end) = &inbox.end {
            return Err(end_error(end));
        }
        if self.is_closed() {
            return Err(ConnError::Closed("connection is closed".into()));
        }
        match until {
            None => Ok(self
                .shared
                .ready
                .wait(inbox)
                .unwrap_or_else(|p| p.into_inner())),
            Some(until) => {
                let now = Instant::now();
                if now >= until {
                    return Err(ConnError::Timeout("receive timed out".into()));
                }
                let (guard, _) = self
                    .shared
                    .ready
                    .wait_timeout(inbox, until - now)
                    .unwrap_or_else(|p| p.into_inner());
                Ok(guard)
            }
        }
    }

    /// A real round trip: a ping frame out, its pong back; the time it took.
    pub fn ping(&self, timeout: Option<Duration>) -> Result<Duration, ConnError> {
        self.check_open()?;
        let token = self.next_token.fetch_add(1, Ordering::SeqCst);
        let start = Instant::now();
        self.send_frame(&control_frame(PING, Some(token)))?;
        let until = deadline(timeout);
        let mut inbox = self.shared.lock();
        loop {
            if inbox.pongs.remove(&token) {
                return Ok(start.elapsed());
            }
            inbox = self.wait(inbox, until).map_err(|err| match err {
                ConnError::Timeout(_) => ConnError::Timeout("ping timed out".into()),
                other => other,
            })?;
        }
    }

    /// The writer lock, waiting at most `grace` for a sender to finish its frame.
    fn writer_within(&self, grace: Duration) -> Option<MutexGuard<'_, TcpStream>> {
        let until = Instant::now() + grace;
        let mut pause = Duration::from_micros(50);
        loop {
            match self.writer.try_lock() {
                Ok(guard) => return Some(guard),
                Err(TryLockError::Poisoned(p)) => return Some(p.into_inner()),
                Err(TryLockError::WouldBlock) if Instant::now() >= until => return None,
                Err(TryLockError::WouldBlock) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(5));
                }
            }
        }
    }

    /// Tells the peer, shuts the socket down, joins the reader and pong threads; idempotent.
    ///
    /// Never waits long on the peer: the close frame is written only if the writer lock
    /// frees within [`CLOSE_GRACE`] and the frame goes out within [`CLOSE_WRITE_TIMEOUT`].
    /// Otherwise the socket is shut down under the blocked sender, which then fails with
    /// `Closed`, and the peer sees the connection end without the close frame.
    pub fn close(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(mut writer) = self.writer_within(CLOSE_GRACE) {
            let _ = writer.set_write_timeout(Some(CLOSE_WRITE_TIMEOUT));
            let _ = writer.write_all(&control_frame(CLOSE, None));
            let _ = writer.shutdown(Shutdown::Both);
        } else {
            let _ = self.cutter.shutdown(Shutdown::Both);
        }
        self.shared
            .finish(End::Closed("connection is closed".into()));
        let handle = self.reader.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
        // The reader has exited, so no new pong thread can start; the one that may exist
        // ends once its channel closes (the reader dropped its end) or its write fails.
        let ponger = self
            .shared
            .ponger
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(ponger) = ponger {
            let _ = ponger.join();
        }
        let mut inbox = self.shared.lock();
        inbox.streams.clear();
        inbox.order.clear();
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.close();
    }
}

/// Writes the pongs the reader hands over, several per lock when they pile up; ends when
/// the reader drops its sender or a write fails.
fn pong_loop(tokens: mpsc::Receiver<u64>, writer: Arc<Mutex<TcpStream>>) {
    while let Ok(first) = tokens.recv() {
        let mut out = control_frame(PONG, Some(first));
        for token in tokens.try_iter() {
            out.extend_from_slice(&control_frame(PONG, Some(token)));
        }
        let mut side = writer.lock().unwrap_or_else(|p| p.into_inner());
        if side.write_all(&out).is_err() {
            return;
        }
    }
}

/// The reader's side of the pong thread: starts it at the first ping.
struct Ponger {
    writer: Arc<Mutex<TcpStream>>,
    shared: Arc<Shared>,
    tokens: Option<mpsc::Sender<u64>>,
}

impl Ponger {
    /// Queues a pong. If the pong thread cannot be started or has stopped (its write
    /// failed, so the connection is going down anyway), the pong is not sent and the pinger
    /// times out, as it would with a lost connection.
    fn answer(&mut self, token: u64) {
        if self.tokens.is_none() {
            let (tx, rx) = mpsc::channel();
            let writer = Arc::clone(&self.writer);
            let spawned = std::thread::Builder::new()
                .name("pyagent-conn-ponger".into())
                .spawn(move || pong_loop(rx, writer));
            match spawned {
                Ok(handle) => {
                    *self.shared.ponger.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
                    self.tokens = Some(tx);
                }
                Err(_) => return,
            }
        }
        if let Some(tokens) = &self.tokens {
            let _ = tokens.send(token);
        }
    }
}

fn read_loop(
    mut stream: TcpStream,
    pong_side: Arc<Mutex<TcpStream>>,
    shared: Arc<Shared>,
    max: u64,
) {
    let mut ponger = Ponger {
        writer: pong_side,
        shared: Arc::clone(&shared),
        tokens: None,
    };
    let mut frames = FrameBuffer::new(max);
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => {
                shared.finish(End::Closed("peer closed the connection".into()));
                return;
            }
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => {
                shared.finish(End::Closed(format!("connection lost: {err}")));
                return;
            }
        };
        if let Err(err) = frames.push(&buf[..n]) {
            shared.finish(End::Protocol(err.0));
            return;
        }
        let mut batch: Vec<(u32, Received)> = Vec::new();
        let mut pongs: Vec<u64> = Vec::new();
        let mut peer_closed = false;
        let mut failure = None;
        loop {
            match frames.next_frame() {
                Ok(None) => break,
                Ok(Some(frame)) if frame.stream_id == CONTROL_STREAM => {
                    match parse_control(&frame.payload) {
                        Some((PING, Some(token))) => ponger.answer(token),
                        Some((PONG, Some(token))) => pongs.push(token),
                        Some((CLOSE, None)) => {
                            peer_closed = true;
                            break;
                        }
                        _ => {
                            failure = Some("bad control message".to_string());
                            break;
                        }
                    }
                }
                Ok(Some(frame)) => batch.push((
                    frame.stream_id,
                    Received {
                        payload: frame.payload,
                        wire_len: frame.wire_len,
                    },
                )),
                Err(err) => {
                    failure = Some(err.0);
                    break;
                }
            }
        }
        if !batch.is_empty() || !pongs.is_empty() {
            let mut inbox = shared.lock();
            for (id, payload) in batch {
                inbox.streams.entry(id).or_default().push_back(payload);
                inbox.order.push_back(id);
            }
            inbox.pongs.extend(pongs);
            drop(inbox);
            shared.ready.notify_all();
        }
        if let Some(message) = failure {
            shared.finish(End::Protocol(message));
            return;
        }
        if peer_closed {
            shared.finish(End::Closed("peer closed the connection".into()));
            return;
        }
    }
}

fn remaining(until: Option<Instant>, what: &str) -> Result<Option<Duration>, ConnError> {
    match until {
        None => Ok(None),
        Some(until) => {
            let now = Instant::now();
            if now >= until {
                return Err(ConnError::Timeout(format!("{what} timed out")));
            }
            Ok(Some(until - now))
        }
    }
}

/// The addresses of `host:port` for a stream socket, in `getaddrinfo` order, as Python's
/// `socket.getaddrinfo(host, port, 0, SOCK_STREAM, 0, flags)` gives them; `passive` sets
/// `AI_PASSIVE` (addresses to bind). std's resolver folds the `EAI_*` code into a message;
/// this keeps it, so the binding raises `socket.gaierror` with the code, as Python does.
pub fn resolve(host: &str, port: u16, passive: bool) -> Result<Vec<SocketAddr>, ConnError> {
    let invalid = |what: &str| ConnError::Io(io::Error::new(io::ErrorKind::InvalidInput, what));
    let c_host = CString::new(host).map_err(|_| invalid("host contains a NUL character"))?;
    let c_port = CString::new(port.to_string()).map_err(|_| invalid("bad port"))?;
    // SAFETY: addrinfo is a plain C struct; all-zero is the documented empty hints value.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_STREAM;
    hints.ai_flags = if passive { libc::AI_PASSIVE } else { 0 };
    let mut list: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid NUL-terminated strings, valid hints, and an out pointer getaddrinfo fills.
    let code = unsafe { libc::getaddrinfo(c_host.as_ptr(), c_port.as_ptr(), &hints, &mut list) };
    if code == libc::EAI_SYSTEM {
        return Err(ConnError::Io(io::Error::last_os_error()));
    }
    if code != 0 {
        // SAFETY: gai_strerror returns a static NUL-terminated string for any code.
        let message = unsafe { CStr::from_ptr(libc::gai_strerror(code)) };
        return Err(ConnError::Resolve(
            code,
            message.to_string_lossy().into_owned(),
        ));
    }
    let mut addrs = Vec::new();
    let mut node = list;
    while !node.is_null() {
        // SAFETY: `node` is an element of the list getaddrinfo returned, not yet freed.
        let info = unsafe { &*node };
        if let Some(addr) = socket_addr(info) {
            addrs.push(addr);
        }
        node = info.ai_next;
    }
    // SAFETY: `list` came from a successful getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(list) };
    Ok(addrs)
}

/// The socket address of one `getaddrinfo` result (IPv4 or IPv6; anything else is skipped).
fn socket_addr(info: &libc::addrinfo) -> Option<SocketAddr> {
    if info.ai_addr.is_null() {
        return None;
    }
    let len = usize::try_from(info.ai_addrlen).ok()?;
    match info.ai_family {
        libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family and length say ai_addr points at a sockaddr_in.
            let sin = unsafe { &*(info.ai_addr as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: the family and length say ai_addr points at a sockaddr_in6.
            let sin6 = unsafe { &*(info.ai_addr as *const libc::sockaddr_in6) };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Opens a TCP connection to `host:port` and performs the client handshake, all within
/// `timeout` (None: no limit).
pub fn connect(
    host: &str,
    port: u16,
    timeout: Option<Duration>,
    max_frame_size: u64,
) -> Result<Connection, ConnError> {
    let until = deadline(timeout);
    let addrs = resolve(host, port, false)?;
    let mut last = None;
    let mut stream = None;
    for addr in addrs {
        let attempt = match remaining(until, "connect")? {
            Some(left) => TcpStream::connect_timeout(&addr, left),
            None => TcpStream::connect(addr),
        };
        match attempt {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(err) => last = Some(err),
        }
    }
    let mut stream = match (stream, last) {
        (Some(s), _) => s,
        (None, Some(err)) => return Err(io_error(err, "connect")),
        (None, None) => {
            return Err(ConnError::Io(io::Error::new(
                io::ErrorKind::NotFound,
                "host resolved to no address",
            )))
        }
    };
    let left = remaining(until, "handshake")?;
    stream.set_read_timeout(left).map_err(ConnError::Io)?;
    stream.set_write_timeout(left).map_err(ConnError::Io)?;
    let mut hello = Vec::with_capacity(8);
    hello.extend_from_slice(&HELLO_MAGIC);
    hello.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
    hello.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
    stream
        .write_all(&hello)
        .map_err(|e| io_error(e, "handshake"))?;
    let mut reply = [0u8; 6];
    stream
        .read_exact(&mut reply)
        .map_err(|e| io_error(e, "handshake"))?;
    if reply[..4] != HELLO_MAGIC {
        return Err(ConnError::Protocol("peer is not a PyAgent endpoint".into()));
    }
    let version = u16::from_be_bytes([reply[4], reply[5]]);
    if version != PROTOCOL_VERSION {
        return Err(ConnError::Protocol(format!(
            "no common protocol version (peer chose {version})"
        )));
    }
    Connection::start(stream, max_frame_size)
}

/// The server half of the handshake on an accepted stream.
fn serve_handshake(
    mut stream: TcpStream,
    until: Option<Instant>,
    max_frame_size: u64,
) -> Result<Connection, ConnError> {
    stream.set_nonblocking(false).map_err(ConnError::Io)?;
    let left = remaining(until, "handshake")?;
    stream.set_read_timeout(left).map_err(ConnError::Io)?;
    stream.set_write_timeout(left).map_err(ConnError::Io)?;
    let mut hello = [0u8; 8];
    stream
        .read_exact(&mut hello)
        .map_err(|e| io_error(e, "handshake"))?;
    if hello[..4] != HELLO_MAGIC {
        let _ = stream.shutdown(Shutdown::Both);
        return Err(ConnError::Protocol("peer is not a PyAgent endpoint".into()));
    }
    let low = u16::from_be_bytes([hello[4], hello[5]]);
    let high = u16::from_be_bytes([hello[6], hello[7]]);
    let chosen = if low <= PROTOCOL_VERSION && PROTOCOL_VERSION <= high {
        PROTOCOL_VERSION
    } else {
        0
    };
    let mut reply = Vec::with_capacity(6);
    reply.extend_from_slice(&HELLO_MAGIC);
    reply.extend_from_slice(&chosen.to_be_bytes());
    stream
        .write_all(&reply)
        .map_err(|e| io_error(e, "handshake"))?;
    if chosen == 0 {
        let _ = stream.shutdown(Shutdown::Both);
        return Err(ConnError::Protocol(format!(
            "no common protocol version (peer speaks {low}..={high})"
        )));
    }
    Connection::start(stream, max_frame_size)
}

/// A listening socket that accepts connections and answers their handshake.
pub struct Listener {
    socket: Mutex<Option<TcpListener>>,
    addr: SocketAddr,
    closed: AtomicBool,
}

impl Listener {
    /// Listens on the first address `host:port` resolves to for binding (`AI_PASSIVE`).
    pub fn bind(host: &str, port: u16) -> Result<Listener, ConnError> {
        let addr = resolve(host, port, true)?
            .into_iter()
            .next()
            .ok_or_else(|| {
                ConnError::Io(io::Error::new(
                    io::ErrorKind::NotFound,
                    "host resolved to no address",
                ))
            })?;
        let socket = TcpListener::bind(addr).map_err(ConnError::Io)?;
        socket.set_nonblocking(true).map_err(ConnError::Io)?;
        let addr = socket.local_addr().map_err(ConnError::Io)?;
        Ok(Listener {
            socket: Mutex::new(Some(socket)),
            addr,
            closed: AtomicBool::new(false),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next connection, handshake done, within `timeout` (None: wait until closed).
    pub fn accept(
        &self,
        timeout: Option<Duration>,
        max_frame_size: u64,
    ) -> Result<Connection, ConnError> {
        let until = deadline(timeout);
        let mut pause = Duration::from_micros(50);
        loop {
            if self.closed.load(Ordering::SeqCst) {
                return Err(ConnError::Closed("listener is closed".into()));
            }
            let accepted = {
                let guard = self.socket.lock().unwrap_or_else(|p| p.into_inner());
                match guard.as_ref() {
                    Some(socket) => socket.accept(),
                    None => return Err(ConnError::Closed("listener is closed".into())),
                }
            };
            match accepted {
                Ok((stream, _)) => return serve_handshake(stream, until, max_frame_size),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    remaining(until, "accept")?;
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(2));
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(ConnError::Io(err)),
            }
        }
    }

    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.socket.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::transport::DEFAULT_MAX_FRAME_SIZE;

    fn frame(id: u32, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; HEADER_LEN];
        buf.extend_from_slice(payload);
        seal(buf, id, 1024, 3).unwrap()
    }

    #[test]
    fn loopback_streams_ping_and_close() {
        let listener = Listener::bind("127.0.0.1", 0).unwrap();
        let port = listener.addr().port();
        let client = std::thread::spawn(move || {
            let conn = connect("127.0.0.1", port, Some(Duration::from_secs(5)), 1 << 20).unwrap();
            for i in 0..100u8 {
                conn.send_frame(&frame(u32::from(i % 3), &[i])).unwrap();
            }
            conn.ping(Some(Duration::from_secs(5))).unwrap();
            conn
        });
        let server = listener
            .accept(Some(Duration::from_secs(5)), DEFAULT_MAX_FRAME_SIZE)
            .unwrap();
        let client = client.join().unwrap();
        let first = server
            .recv_stream(2, Some(Duration::from_secs(5)))
            .unwrap()
            .payload;
        assert_eq!(first, vec![2]);
        let mut seen = vec![first[0]];
        for _ in 0..99 {
            let (id, received) = server.recv(Some(Duration::from_secs(5))).unwrap();
            let payload = received.payload;
            assert_eq!(u32::from(payload[0] % 3), id);
            seen.push(payload[0]);
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..100).collect::<Vec<u8>>());
        assert!(matches!(
            server.recv(Some(Duration::from_millis(20))),
            Err(ConnError::Timeout(_))
        ));
        client.close();
        assert!(matches!(server.recv(None), Err(ConnError::Closed(_))));
        assert!(matches!(
            client.send_frame(&frame(0, b"\xc0")),
            Err(ConnError::Closed(_))
        ));
    }

    #[test]
    fn resolve_keeps_the_getaddrinfo_code() {
        let local = resolve("127.0.0.1", 80, false).unwrap();
        assert_eq!(local, vec!["127.0.0.1:80".parse::<SocketAddr>().unwrap()]);
        let any = resolve("::", 0, true).unwrap();
        assert_eq!(any[0], "[::]:0".parse::<SocketAddr>().unwrap());
        match resolve("nonexistent.invalid", 80, false) {
            Err(ConnError::Resolve(code, message)) => {
                assert!(code != 0 && code != libc::EAI_SYSTEM);
                assert!(!message.is_empty());
            }
            other => panic!("expected a resolver error, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn accept_times_out_and_bad_hello_is_refused() {
        let listener = Listener::bind("127.0.0.1", 0).unwrap();
        assert!(matches!(
            listener.accept(Some(Duration::from_millis(10)), 1024),
            Err(ConnError::Timeout(_))
        ));
        let mut raw = TcpStream::connect(listener.addr()).unwrap();
        raw.write_all(b"GET / HTTP").unwrap();
        assert!(matches!(
            listener.accept(Some(Duration::from_secs(5)), 1024),
            Err(ConnError::Protocol(_))
        ));
        assert_eq!(
            parse_control(&control_frame(PING, Some(7))[HEADER_LEN..]),
            Some((PING, Some(7)))
        );
    }
}
