//! A minimal admin client: create topics.

use std::time::Duration;

use async_channel::Receiver;
use dekaf_proto::messages::create_topics::CreatableTopic;
use dekaf_proto::messages::{CreateTopicsRequest, RequestBody, ResponseBody};
use dekaf_proto::{ApiKey, ErrorCode};
use dekaf_state::client::{ClientRequest, Destination};

use crate::side::{probe_request, wait_for_broker, Outcome, SideRequests};
use crate::{Config, Driver, Error, Handle, Spawner};

/// A topic to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTopic {
    /// Its name.
    pub name: String,
    /// How many partitions it has.
    pub partitions: i32,
    /// How many copies of each partition the cluster keeps (-1: the broker's default).
    pub replication_factor: i16,
}

impl NewTopic {
    /// `partitions` partitions with the broker's default replication factor.
    pub fn new(name: impl Into<String>, partitions: i32) -> Self {
        NewTopic {
            name: name.into(),
            partitions,
            replication_factor: -1,
        }
    }

    /// Sets the replication factor.
    pub fn replication_factor(mut self, factor: i16) -> Self {
        self.replication_factor = factor;
        self
    }
}

/// Administers a cluster; for now it creates topics.
///
/// ```no_run
/// use dekaf_smol::{Admin, NewTopic};
/// # async fn example() -> Result<(), dekaf_smol::Error> {
/// let admin = Admin::connect("localhost:9092").await?;
/// admin.create_topic(NewTopic::new("my-topic", 3).replication_factor(1)).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Admin {
    handle: Handle<SideRequests>,
    request_timeout: Duration,
}

impl Admin {
    /// Connects to one of `bootstrap_servers` (`host:port`, comma-separated), waiting at most
    /// 10 s for one to answer; the driver runs on a thread of its own.
    pub async fn connect(bootstrap_servers: impl AsRef<str>) -> Result<Admin, Error> {
        let servers: Vec<String> = bootstrap_servers
            .as_ref()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        Admin::connect_with(Config::new(servers)).await
    }

    /// Connects with these connection settings (security protocol, TLS, timeouts), waiting
    /// at most the connect timeout for a bootstrap server to answer.
    pub async fn connect_with(config: Config) -> Result<Admin, Error> {
        let servers = config.bootstrap_servers.clone();
        let connect_timeout = config.connect_timeout;
        let request_timeout = config.request_timeout;
        let (driver, handle) = Driver::new(config, SideRequests::default())?;
        Spawner::thread().spawn(
            "dekaf-admin",
            Box::pin(async move {
                driver.run().await;
            }),
        )?;
        let admin = Admin {
            handle,
            request_timeout,
        };
        let probe = wait_for_broker(
            &servers,
            connect_timeout,
            || admin.submit(probe_request()),
            || None,
        )
        .await;
        match probe {
            Ok(()) => Ok(admin),
            Err(e) => {
                admin.handle.shutdown();
                Err(e)
            }
        }
    }

    fn submit(&self, request: ClientRequest) -> Result<Receiver<Outcome>, Error> {
        let (tx, rx) = async_channel::bounded(1);
        self.handle.execute(move |m: &mut SideRequests, _| {
            m.submit_to(Destination::AnyBroker, request, tx);
        })?;
        Ok(rx)
    }

    /// Creates a topic; fails with the broker's code (e.g. TOPIC_ALREADY_EXISTS) when it
    /// refuses.
    pub async fn create_topic(&self, topic: NewTopic) -> Result<(), Error> {
        let name = topic.name.clone();
        let timeout_ms = i32::try_from(self.request_timeout.as_millis()).unwrap_or(i32::MAX);
        let request = ClientRequest::new(ApiKey::CreateTopics, 2, 7, move |_| {
            let mut t = CreatableTopic::new(topic.name.clone());
            t.num_partitions = topic.partitions;
            t.replication_factor = topic.replication_factor;
            RequestBody::CreateTopics(CreateTopicsRequest {
                topics: vec![t],
                timeout_ms,
                ..Default::default()
            })
        });
        let answer = self
            .submit(request)?
            .recv()
            .await
            .map_err(|_| Error::Shutdown)??;
        let ResponseBody::CreateTopics(resp) = answer.body else {
            return Err(Error::Request(
                dekaf_state::client::RequestFailed::Disconnected,
            ));
        };
        let code = resp
            .topics
            .iter()
            .find(|t| t.name == name)
            .map_or(ErrorCode::UNKNOWN_SERVER_ERROR, |t| t.error_code);
        match code {
            ErrorCode::NONE => Ok(()),
            code => Err(Error::Kafka {
                context: "CreateTopics",
                code,
            }),
        }
    }
}

impl Drop for Admin {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}
