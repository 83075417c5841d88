//! Kafka's primitive types on the wire: fixed-width integers, varints, UUIDs.
//!
//! Reading goes through [`Reader`], a cursor over one complete frame (or record batch) held as
//! [`Bytes`](bytes::Bytes), so that byte fields come out as zero-copy slices of it. Writing is a handful of
//! functions over [`BufMut`](bytes::BufMut).

mod reader;
mod uuid;
mod varint;

pub use reader::Reader;
pub use uuid::Uuid;
#[cfg(test)]
pub(crate) use varint::{parse_uvarint, parse_uvarlong};
pub use varint::{
    put_uvarint, put_uvarlong, put_varint, put_varlong, uvarint_len, varint_len, varlong_len,
};
pub(crate) use varint::{unzigzag32, unzigzag64};
