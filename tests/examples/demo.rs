//! The demo: dekaf-proto over a plain blocking `TcpStream`, against a running broker.
//!
//! `cargo xtask demo` starts a broker and runs this with its address; by hand:
//! `cargo run -p dekaf-tests --example demo -- 127.0.0.1:9092`.
//!
//! Each step is one request and its answer. It grows with the protocol: topics, produce and
//! fetch come next.

use std::net::SocketAddr;
use std::process::ExitCode;

use dekaf_proto::messages::{supported_versions, ApiVersionsRequest, IMPLEMENTED};
use dekaf_proto::version::BrokerVersions;
use dekaf_proto::ApiKey;
use dekaf_tests::Client;

fn main() -> ExitCode {
    let Some(addr) = std::env::args().nth(1) else {
        eprintln!("usage: demo HOST:PORT");
        return ExitCode::FAILURE;
    };
    let addr: SocketAddr = match addr.parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("not an address {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut client = match Client::connect(addr) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot connect to {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("connected to {addr}");
    let versions = api_versions(&mut client);
    negotiate(&versions);
    ExitCode::SUCCESS
}

/// Asks which APIs the broker speaks, in the newest ApiVersions both sides know.
fn api_versions(client: &mut Client) -> BrokerVersions {
    let request = ApiVersionsRequest {
        client_software_name: "dekaf-demo".into(),
        client_software_version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    };
    let response = client.call(&request, 3);
    println!(
        "\nApiVersions v3: error {}, {} APIs offered",
        response.error_code,
        response.api_keys.len()
    );
    let mut keys = response.api_keys.clone();
    keys.sort_by_key(|k| k.api_key);
    for k in &keys {
        let name = ApiKey::from_key(k.api_key).map_or("(unknown)", ApiKey::name);
        println!(
            "  {:>3} {name:<28} v{}..=v{}",
            k.api_key, k.min_version, k.max_version
        );
    }
    BrokerVersions::from_response(&response)
}

/// Shows the version dekaf will use for each API it implements.
fn negotiate(versions: &BrokerVersions) {
    println!("\nnegotiated versions:");
    for &api in IMPLEMENTED {
        let ours = supported_versions(api).unwrap_or((0, -1));
        match versions.pick(api) {
            Ok(v) => println!(
                "  {:<28} v{v} (dekaf v{}..=v{})",
                api.name(),
                ours.0,
                ours.1
            ),
            Err(e) => println!("  {:<28} none: {e}", api.name()),
        }
    }
}
