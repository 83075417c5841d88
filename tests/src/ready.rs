//! `build()` and then `ready()`, in one call: the start-up of an application that would
//! rather fail at once than keep trying in the background, for the tests of refusals
//! (credentials, certificates) that `build()` alone no longer meets.

use std::time::Duration;

use dekaf_smol::{
    Admin, AdminBuilder, Consumer, ConsumerBuilder, Error, Producer, ProducerBuilder,
};

/// A builder whose client can wait until a broker answers.
pub trait BuildReady {
    /// The client built.
    type Client;

    /// Builds the client and waits until a broker answers, at most `timeout`; the client is
    /// dropped when none does, and the error says why.
    fn build_ready(
        self,
        timeout: Duration,
    ) -> impl std::future::Future<Output = Result<Self::Client, Error>>;
}

impl BuildReady for ConsumerBuilder {
    type Client = Consumer;

    async fn build_ready(self, timeout: Duration) -> Result<Consumer, Error> {
        let client = self.build().await?;
        client.ready(timeout).await?;
        Ok(client)
    }
}

impl BuildReady for ProducerBuilder {
    type Client = Producer;

    async fn build_ready(self, timeout: Duration) -> Result<Producer, Error> {
        let client = self.build().await?;
        client.ready(timeout).await?;
        Ok(client)
    }
}

impl BuildReady for AdminBuilder {
    type Client = Admin;

    async fn build_ready(self, timeout: Duration) -> Result<Admin, Error> {
        let client = self.build().await?;
        client.ready(timeout).await?;
        Ok(client)
    }
}
