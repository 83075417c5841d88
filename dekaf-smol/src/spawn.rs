//! Where a client's driver runs: its own thread by default, or a task of the application's
//! executor.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The driver of a client, as a future to run to completion.
pub type DriverFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

type SpawnFn = dyn Fn(DriverFuture) + Send + Sync;

/// How a client ([`Consumer`](crate::Consumer), [`Producer`](crate::Producer),
/// [`Admin`](crate::Admin)) runs the task that owns its connections.
///
/// The default, [`Spawner::thread`], runs it on a thread of its own with `async-io`'s
/// `block_on`: the client then works under any executor (smol, async-std, tokio, a plain
/// `block_on`) without dekaf choosing a global executor for the application, and the driver
/// keeps reading from the network while the application's tasks are busy. To run it on your
/// executor instead, pass a function that spawns the future and lets it run to the end, e.g.
/// `Spawner::new(|driver| smol::spawn(driver).detach())`; for tokio, see the crate's
/// section [Running under tokio](crate#running-under-tokio).
#[derive(Clone)]
pub struct Spawner(Option<Arc<SpawnFn>>);

impl Spawner {
    /// One thread per client, named after the client (the default).
    pub fn thread() -> Self {
        Spawner(None)
    }

    /// Runs drivers with `spawn`, which must poll the future to completion (e.g. spawn it on
    /// an executor and detach it). The future uses `async-io` for its sockets and timer.
    pub fn new(spawn: impl Fn(DriverFuture) + Send + Sync + 'static) -> Self {
        Spawner(Some(Arc::new(spawn)))
    }

    /// Starts `driver`; `name` names the thread when there is one.
    pub(crate) fn spawn(&self, name: &str, driver: DriverFuture) -> Result<(), crate::Error> {
        match &self.0 {
            Some(spawn) => {
                spawn(driver);
                Ok(())
            }
            None => std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(move || async_io::block_on(driver))
                .map(drop)
                .map_err(|e| crate::Error::io("spawn driver thread", name, e)),
        }
    }
}

impl Default for Spawner {
    fn default() -> Self {
        Spawner::thread()
    }
}

impl fmt::Debug for Spawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("Spawner::thread"),
            Some(_) => f.write_str("Spawner::new(..)"),
        }
    }
}
