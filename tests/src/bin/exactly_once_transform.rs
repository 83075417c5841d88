//! dekaf-smol's `exactly_once_transform` example as a program of this package, so that its tests run it
//! whole: it starts itself again as its workers and kills them.

#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../../../dekaf-smol/examples/exactly_once_transform.rs"]
mod example;

fn main() -> std::process::ExitCode {
    example::main()
}
