//! Scripted brokers on loopback sockets: a test plays the broker's side of each connection,
//! request by request, to check a client against answers no real broker gives.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;

use bytes::{Bytes, BytesMut};
use dekaf_proto::frame::{begin_frame, end_frame, FrameSplitter};
use dekaf_proto::header::{response_header_version, RequestHeader, ResponseHeader};
use dekaf_proto::messages::api_versions::ApiVersion;
use dekaf_proto::messages::ApiVersionsResponse;
use dekaf_proto::wire::Reader;
use dekaf_proto::{ApiKey, Message};

use crate::driver::WAIT;

/// A scripted broker: `script` runs on its own thread with the listening socket.
pub fn fake<T: Send + 'static>(
    script: impl FnOnce(TcpListener) -> T + Send + 'static,
) -> (SocketAddr, JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    (addr, std::thread::spawn(move || script(listener)))
}

/// One accepted connection of a scripted broker.
pub struct Conn {
    stream: TcpStream,
    splitter: FrameSplitter,
}

impl Conn {
    /// Accepts the next connection (its reads time out after [`WAIT`]).
    pub fn accept(listener: &TcpListener) -> Conn {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        Conn {
            stream,
            splitter: FrameSplitter::default(),
        }
    }

    /// The next request's header and body; `None` once the client closed the connection.
    pub fn request(&mut self) -> Option<(RequestHeader, Bytes)> {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(frame) = self.splitter.next_frame().unwrap() {
                let mut r = Reader::new(&frame);
                let header = RequestHeader::decode(&mut r).unwrap();
                return Some((header, frame.slice(r.offset()..)));
            }
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.splitter.push(&chunk[..n]),
            }
        }
    }

    /// Answers the request of `header` with `body`, in the request's version.
    pub fn respond<M: Message>(&mut self, header: &RequestHeader, body: &M) {
        let api = ApiKey::from_key(header.api_key).unwrap();
        let mut buf = BytesMut::new();
        let at = begin_frame(&mut buf);
        ResponseHeader {
            correlation_id: header.correlation_id,
            ..Default::default()
        }
        .encode(&mut buf, response_header_version(api, header.api_version));
        body.encode(&mut buf, header.api_version).unwrap();
        end_frame(&mut buf, at);
        self.raw(&buf);
    }

    /// Writes bytes as they are.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Answers the ApiVersions request that opens every connection.
    pub fn handshake(&mut self, table: &[(ApiKey, i16, i16)]) {
        let (header, _) = self.request().expect("an ApiVersions request");
        assert_eq!(header.api_key, ApiKey::ApiVersions.key());
        self.respond(&header, &versions(table));
    }

    /// Requests received until the client closes the connection.
    pub fn count_until_closed(&mut self) -> usize {
        std::iter::from_fn(|| self.request()).count()
    }
}

/// An ApiVersions answer advertising `table`: API, lowest and highest version.
pub fn versions(table: &[(ApiKey, i16, i16)]) -> ApiVersionsResponse {
    ApiVersionsResponse {
        api_keys: table
            .iter()
            .map(|&(api, lo, hi)| ApiVersion {
                api_key: api.key(),
                min_version: lo,
                max_version: hi,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
