//! The proxy's IO: one listener per pretended broker, and per accepted connection a
//! connection of its own to the real broker and three threads — requests in (each decided
//! by [`route::decide`](super::route::decide)), the broker's answers back (finished by their
//! plan), and a writer that hands answers to the client in request order, after the
//! broker's delay, damaged when corruption is on.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use dekaf_proto::frame::FrameSplitter;
use dekaf_proto::ApiKey;

use super::corrupt::{self, Written};
use super::model::{Down, Model};
use super::route::{self, Decision, Plan};

/// What every listener and connection shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) model: Mutex<Model>,
    pub(crate) upstream: SocketAddr,
    conns: Mutex<Vec<Arc<Conn>>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn new(model: Model, upstream: SocketAddr) -> Shared {
        Shared {
            model: Mutex::new(model),
            upstream,
            conns: Mutex::new(Vec::new()),
        }
    }

    /// Closes every connection of `broker` (all brokers when `None`).
    pub(crate) fn close_connections(&self, broker: Option<usize>) -> usize {
        let mut conns = lock(&self.conns);
        let mut closed = 0;
        for c in conns.iter() {
            if broker.is_none_or(|b| b == c.broker) && !c.is_closed() {
                c.close();
                closed += 1;
            }
        }
        conns.retain(|c| !c.is_closed());
        closed
    }
}

/// One broker's listening socket and the thread accepting on it.
#[derive(Debug)]
pub(crate) struct Listener {
    pub(crate) addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    /// Accepts connections for `broker` on `listener` until stopped.
    pub(crate) fn start(shared: &Arc<Shared>, broker: usize, listener: TcpListener) -> Listener {
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("a proxy listener has no address: {e}"));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (shared, stop) = (Arc::clone(shared), Arc::clone(&stop));
            std::thread::spawn(move || accept(&shared, broker, &listener, &stop))
        };
        Listener {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// Listens again on the same address after [`stop`](Self::stop); the port may have been
    /// taken meanwhile, so binding is tried for a while.
    pub(crate) fn restart(&mut self, shared: &Arc<Shared>, broker: usize) -> io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        *self = Listener::start(shared, broker, listener);
        Ok(())
    }

    /// Stops accepting and closes the listening socket: connecting is refused from now on.
    pub(crate) fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            // Wake the acceptor, which then sees the flag and drops the socket.
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
            let _ = thread.join();
        }
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.thread.is_none()
    }
}

static NEXT_CONN: AtomicUsize = AtomicUsize::new(0);

fn accept(shared: &Arc<Shared>, broker: usize, listener: &TcpListener, stop: &AtomicBool) {
    for client in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let Ok(upstream) = TcpStream::connect(shared.upstream) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        let conn = Arc::new(Conn {
            id: NEXT_CONN.fetch_add(1, Ordering::Relaxed),
            broker,
            client,
            upstream,
            out: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            closed: AtomicBool::new(false),
            client_gone: AtomicBool::new(false),
        });
        {
            let mut conns = lock(&shared.conns);
            conns.retain(|c| !c.is_closed());
            conns.push(Arc::clone(&conn));
        }
        lock(&shared.model).stats.bump("connection accepted");
        for part in [Part::Requests, Part::Answers, Part::Writer] {
            let (shared, conn) = (Arc::clone(shared), Arc::clone(&conn));
            std::thread::spawn(move || match part {
                Part::Requests => conn.requests(&shared),
                Part::Answers => conn.answers(&shared),
                Part::Writer => conn.writer(&shared),
            });
        }
    }
}

#[derive(Clone, Copy)]
enum Part {
    Requests,
    Answers,
    Writer,
}

/// An answer owed to the client, in request order.
#[derive(Debug)]
struct Entry {
    correlation_id: i32,
    api: Option<(ApiKey, i16)>,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Sent to the broker; its answer goes through the plan.
    Waiting(Plan),
    /// The plan was taken by the answer thread, which is finishing the answer.
    Finishing,
    /// To be written once `at` has passed.
    Ready { frame: Bytes, at: Instant },
}

/// One proxied connection.
#[derive(Debug)]
pub(crate) struct Conn {
    /// Numbered from 0 in the order connections were accepted (over every proxy).
    id: usize,
    broker: usize,
    client: TcpStream,
    upstream: TcpStream,
    out: Mutex<VecDeque<Entry>>,
    ready: Condvar,
    closed: AtomicBool,
    /// The client's side was closed after a request went to the broker: answers still
    /// coming are read and dropped.
    client_gone: AtomicBool,
}

fn prefixed(frame: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(frame.len() + 4);
    out.put_i32(frame.len() as i32);
    out.put_slice(frame);
    out.freeze()
}

impl Conn {
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Closes both sides; every thread of the connection ends.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.upstream.shutdown(Shutdown::Both);
        let _out = lock(&self.out);
        self.ready.notify_all();
    }

    /// Closes the client's side only: the broker still gets (and answers) what was sent.
    fn drop_client(&self) {
        {
            // Under the lock the writer takes answers with: none is written after this.
            let _out = lock(&self.out);
            self.client_gone.store(true, Ordering::SeqCst);
        }
        let _ = self.client.shutdown(Shutdown::Both);
        self.ready.notify_all();
    }

    fn push(&self, entry: Entry) {
        lock(&self.out).push_back(entry);
        self.ready.notify_all();
    }

    fn delay(&self, shared: &Shared) -> Duration {
        lock(&shared.model).brokers[self.broker].delay
    }

    /// Reads requests from the client and does what each one's decision says.
    fn requests(&self, shared: &Shared) {
        let Ok(mut client) = self.client.try_clone() else {
            return self.close();
        };
        let Ok(mut upstream) = self.upstream.try_clone() else {
            return self.close();
        };
        let mut splitter = FrameSplitter::default();
        let mut chunk = vec![0u8; 64 * 1024];
        'read: loop {
            let n = match client.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            splitter.push(chunk.get(..n).unwrap_or_default());
            loop {
                let frame = match splitter.next_frame() {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break,
                    Err(_) => break 'read,
                };
                let decision =
                    route::decide(&mut lock(&shared.model), self.broker, self.id, &frame);
                match decision {
                    Decision::Swallow => {}
                    Decision::Answer { plan, frame } => {
                        let at = Instant::now() + self.delay(shared);
                        self.push(Entry {
                            correlation_id: plan.correlation_id,
                            api: plan.api,
                            state: State::Ready { frame, at },
                        });
                    }
                    Decision::Forward {
                        frame,
                        plan,
                        then_drop,
                    } => {
                        if then_drop {
                            // The client's side goes first, so that no answer reaches it
                            // however fast the broker is; the broker still gets the request.
                            self.drop_client();
                            let _ = upstream.write_all(&frame);
                            let _ = self.upstream.shutdown(Shutdown::Write);
                            return;
                        }
                        if plan.expects_answer {
                            self.push(Entry {
                                correlation_id: plan.correlation_id,
                                api: plan.api,
                                state: State::Waiting(plan),
                            });
                        }
                        if upstream.write_all(&frame).is_err() {
                            break 'read;
                        }
                    }
                    Decision::Close => break 'read,
                }
            }
        }
        if !self.client_gone.load(Ordering::SeqCst) {
            self.close();
        }
    }

    /// Reads the broker's answers and readies each for the writer.
    fn answers(&self, shared: &Shared) {
        let Ok(mut upstream) = self.upstream.try_clone() else {
            return self.close();
        };
        let mut splitter = FrameSplitter::default();
        let mut chunk = vec![0u8; 64 * 1024];
        'read: loop {
            let n = match upstream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            splitter.push(chunk.get(..n).unwrap_or_default());
            loop {
                let frame = match splitter.next_frame() {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break,
                    Err(_) => break 'read,
                };
                if self.client_gone.load(Ordering::SeqCst) {
                    continue;
                }
                let id = frame
                    .get(..4)
                    .map_or(0, |b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                let plan = {
                    let mut out = lock(&self.out);
                    out.iter_mut()
                        .find(|e| e.correlation_id == id && matches!(e.state, State::Waiting(_)))
                        .and_then(
                            |e| match std::mem::replace(&mut e.state, State::Finishing) {
                                State::Waiting(plan) => Some(plan),
                                other => {
                                    e.state = other;
                                    None
                                }
                            },
                        )
                };
                let finished = match &plan {
                    Some(plan) => plan.finish(&shared.model, frame),
                    None => prefixed(&frame),
                };
                let at = Instant::now() + self.delay(shared);
                let mut out = lock(&self.out);
                match out
                    .iter_mut()
                    .find(|e| e.correlation_id == id && matches!(e.state, State::Finishing))
                {
                    Some(e) => {
                        e.state = State::Ready {
                            frame: finished,
                            at,
                        }
                    }
                    // An answer nobody waits for: passed on as it is, after the others.
                    None => out.push_back(Entry {
                        correlation_id: id,
                        api: None,
                        state: State::Ready {
                            frame: finished,
                            at,
                        },
                    }),
                }
                drop(out);
                self.ready.notify_all();
            }
        }
        self.close();
    }

    /// The next answer due, in request order; `None` once the connection is closed.
    fn next_ready(&self) -> Option<(Option<(ApiKey, i16)>, Bytes)> {
        let mut out = lock(&self.out);
        loop {
            if self.is_closed() || self.client_gone.load(Ordering::SeqCst) {
                return None;
            }
            let now = Instant::now();
            let wait = match out.front() {
                Some(Entry {
                    state: State::Ready { at, .. },
                    ..
                }) if *at <= now => {
                    let entry = out.pop_front()?;
                    let State::Ready { frame, .. } = entry.state else {
                        return None;
                    };
                    return Some((entry.api, frame));
                }
                Some(Entry {
                    state: State::Ready { at, .. },
                    ..
                }) => Some(*at - now),
                _ => None,
            };
            out = match wait {
                Some(d) => {
                    self.ready
                        .wait_timeout(out, d)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self.ready.wait(out).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }

    /// Writes answers to the client as they become due.
    fn writer(&self, shared: &Shared) {
        let Ok(mut client) = self.client.try_clone() else {
            return self.close();
        };
        while let Some((api, frame)) = self.next_ready() {
            let written = {
                let mut model = lock(&shared.model);
                let model = &mut *model;
                if model.brokers[self.broker].down == Some(Down::Blackhole) {
                    model.stats.bump("answer dropped");
                    continue;
                }
                match &model.corruption {
                    Some(c) => {
                        let (damage, written) = corrupt::damage(&mut model.rng, c, api, frame);
                        if let Some(d) = damage {
                            model.stats.bump(format!("corrupt: {}", d.name()));
                        }
                        written
                    }
                    None => Written::Bytes(frame),
                }
            };
            let (bytes, then_close) = match written {
                Written::Bytes(b) => (b, false),
                Written::ThenClose(b) => (b, true),
            };
            if client.write_all(&bytes).is_err() || then_close {
                break;
            }
        }
        if !self.client_gone.load(Ordering::SeqCst) {
            self.close();
        }
    }
}
