//! A recording TCP proxy: forwards a client's connections to a broker unchanged and keeps a
//! copy of the frames of chosen APIs, requests and responses, as they crossed the wire.
//!
//! The proxy does not rewrite anything, so a client must learn the proxy's address, not the
//! broker's, from Metadata and FindCoordinator: start the broker advertising the proxy
//! ([`Broker::start_advertising`](crate::Broker::start_advertising)), as in
//!
//! ```no_run
//! use dekaf_proto::ApiKey;
//! use dekaf_tests::proxy::Proxy;
//! use dekaf_tests::{Broker, Build, Engine};
//!
//! let listener = Proxy::bind().unwrap();
//! let advertised = listener.local_addr().unwrap();
//! let broker = Broker::start_advertising(Build::W, Engine::Memory, advertised).unwrap();
//! let proxy = Proxy::start(listener, broker.addr(), &[ApiKey::JoinGroup]);
//! // ... point a client at proxy.addr() ...
//! for frame in proxy.frames() {
//!     println!("{:?} {} v{}", frame.direction, frame.api_key.name(), frame.api_version);
//! }
//! ```
//!
//! Each accepted connection gets two threads, one per direction. Bytes are forwarded as they
//! come; a copy goes through a [`FrameSplitter`]. A request's header tells its API, version
//! and correlation id, which is how the response coming back is recognised. Frames the proxy
//! cannot parse are forwarded all the same and not recorded.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use bytes::Bytes;
use dekaf_proto::frame::FrameSplitter;
use dekaf_proto::header::{response_header_version, RequestHeader, ResponseHeader};
use dekaf_proto::wire::Reader;
use dekaf_proto::ApiKey;

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client to the broker.
    Request,
    /// From the broker to the client.
    Response,
}

/// One recorded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The proxied connection it belongs to, numbered from 0 in the order they were accepted.
    pub connection: usize,
    /// Request or response.
    pub direction: Direction,
    /// The API of the request (of the request answered, for a response).
    pub api_key: ApiKey,
    /// The version of the request (a response comes back in the same one).
    pub api_version: i16,
    /// The correlation id shared by the request and its response.
    pub correlation_id: i32,
    /// The client id from the request header (the request's, for a response).
    pub client_id: Option<String>,
    /// The whole frame without its length prefix: header then body.
    pub frame: Bytes,
    /// Where the body starts in `frame`.
    pub body_at: usize,
}

impl Frame {
    /// The body, after the header.
    pub fn body(&self) -> Bytes {
        self.frame.slice(self.body_at.min(self.frame.len())..)
    }
}

/// A running proxy; it stops accepting and closes every proxied connection when dropped.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    next_connection: AtomicUsize,
    frames: Mutex<Vec<Frame>>,
    open: Mutex<Vec<TcpStream>>,
    keys: Vec<ApiKey>,
}

impl Shared {
    fn frames(&self) -> MutexGuard<'_, Vec<Frame>> {
        self.frames.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn open(&self) -> MutexGuard<'_, Vec<TcpStream>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Proxy {
    /// A listener on a free loopback port, for the proxy to [`start`](Self::start) on once
    /// the broker behind it runs.
    pub fn bind() -> io::Result<TcpListener> {
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
    }

    /// Forwards every connection made to `listener` to `upstream`, recording the frames of
    /// the APIs in `keys` (requests and their responses).
    pub fn start(listener: TcpListener, upstream: SocketAddr, keys: &[ApiKey]) -> Proxy {
        crate::init_logging();
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("proxy listener has no address: {e}"));
        let shared = Arc::new(Shared {
            keys: keys.to_vec(),
            ..Shared::default()
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || accept(listener, upstream, shared))
        };
        Proxy {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The frames recorded so far, in the order the proxy saw them complete.
    pub fn frames(&self) -> Vec<Frame> {
        self.shared.frames().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor, which then sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for stream in self.shared.open().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn accept(listener: TcpListener, upstream: SocketAddr, shared: Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let Ok(broker) = TcpStream::connect(upstream) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let connection = shared.next_connection.fetch_add(1, Ordering::SeqCst);
        let _ = client.set_nodelay(true);
        let _ = broker.set_nodelay(true);
        let clones = (
            client.try_clone(),
            broker.try_clone(),
            client.try_clone(),
            broker.try_clone(),
        );
        let (Ok(client_w), Ok(broker_r), Ok(client_keep), Ok(broker_keep)) = clones else {
            continue;
        };
        shared.open().extend([client_keep, broker_keep]);
        let in_flight = Arc::new(Mutex::new(HashMap::new()));
        let conn = Connection {
            id: connection,
            shared: Arc::clone(&shared),
            in_flight,
        };
        let up = conn.clone();
        std::thread::spawn(move || up.pump(client, broker, Direction::Request));
        std::thread::spawn(move || conn.pump(broker_r, client_w, Direction::Response));
    }
}

/// What a response needs from its request.
#[derive(Debug, Clone)]
struct Sent {
    api_key: ApiKey,
    api_version: i16,
    client_id: Option<String>,
}

#[derive(Debug, Clone)]
struct Connection {
    id: usize,
    shared: Arc<Shared>,
    in_flight: Arc<Mutex<HashMap<i32, Sent>>>,
}

impl Connection {
    /// Copies `from` to `to` until either side closes, recording frames on the way.
    fn pump(self, mut from: TcpStream, mut to: TcpStream, direction: Direction) {
        let mut splitter = FrameSplitter::default();
        let mut parsing = true;
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let data = chunk.get(..n).unwrap_or_default();
            // A request is noted before it is forwarded, so that its response cannot overtake
            // the note.
            if parsing {
                splitter.push(data);
                loop {
                    match splitter.next_frame() {
                        Ok(Some(frame)) => self.note(frame, direction),
                        Ok(None) => break,
                        Err(_) => {
                            parsing = false;
                            break;
                        }
                    }
                }
            }
            if to.write_all(data).is_err() {
                break;
            }
        }
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    }

    fn note(&self, frame: Bytes, direction: Direction) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let mut r = Reader::new(&frame);
        let (correlation_id, sent) = match direction {
            Direction::Request => {
                let Ok(header) = RequestHeader::decode(&mut r) else {
                    return;
                };
                let Some(api_key) = ApiKey::from_key(header.api_key) else {
                    return;
                };
                let sent = Sent {
                    api_key,
                    api_version: header.api_version,
                    client_id: header.client_id,
                };
                in_flight.insert(header.correlation_id, sent.clone());
                (header.correlation_id, sent)
            }
            Direction::Response => {
                let Some(id) = frame.get(..4).and_then(|b| b.try_into().ok()) else {
                    return;
                };
                let id = i32::from_be_bytes(id);
                let Some(sent) = in_flight.remove(&id) else {
                    return;
                };
                let version = response_header_version(sent.api_key, sent.api_version);
                if ResponseHeader::decode(&mut r, version).is_err() {
                    return;
                }
                (id, sent)
            }
        };
        drop(in_flight);
        if !self.shared.keys.contains(&sent.api_key) {
            return;
        }
        let body_at = r.offset();
        self.shared.frames().push(Frame {
            connection: self.id,
            direction,
            api_key: sent.api_key,
            api_version: sent.api_version,
            correlation_id,
            client_id: sent.client_id,
            frame,
            body_at,
        });
    }
}
