//! Connections to Redis, a single server or a Cluster, behind one command interface.
//!
//! URL forms (also the `--store` values):
//! - `redis://[USER:PASSWORD@]HOST:PORT[/DB]` — one server (or a primary behind a proxy);
//! - `rediss://…` — the same over TLS (the system's CA certificates; append `#insecure` to skip
//!   verification, e.g. for a self-signed test certificate);
//! - `redis+cluster://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]` and `rediss+cluster://…` — a
//!   Redis Cluster, given one or more seed nodes (the rest is discovered).

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{AsyncPushSender, ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, IntoConnectionInfo, Pipeline, ProtocolVersion, RedisFuture, Value};
use tokio::sync::OnceCell;

use super::StoreError;

/// How long connecting and one answer may take before the request fails (→ 503).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
pub(crate) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Where Redis is, parsed from the store URL.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Single(Box<redis::ConnectionInfo>),
    Cluster(Vec<redis::ConnectionInfo>),
}

pub(crate) fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl Target {
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let bad = |why: String| StoreError::Config(format!("Redis URL {url:?}: {why}"));
        let cluster = [
            ("redis+cluster://", "redis://"),
            ("rediss+cluster://", "rediss://"),
        ]
        .iter()
        .find_map(|(scheme, plain)| url.strip_prefix(scheme).map(|rest| (*plain, rest)));
        match cluster {
            Some((plain, rest)) => {
                let (auth, nodes) = match rest.rsplit_once('@') {
                    Some((auth, nodes)) => (format!("{auth}@"), nodes),
                    None => (String::new(), rest),
                };
                let (nodes, fragment) = match nodes.split_once('#') {
                    Some((nodes, f)) => (nodes, format!("#{f}")),
                    None => (nodes, String::new()),
                };
                let infos = nodes
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(|node| {
                        format!("{plain}{auth}{node}{fragment}")
                            .into_connection_info()
                            .map_err(|e| bad(e.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if infos.is_empty() {
                    return Err(bad("no cluster node given".into()));
                }
                Ok(Self::Cluster(infos))
            }
            None if url.starts_with("redis://") || url.starts_with("rediss://") => url
                .into_connection_info()
                .map(|info| Self::Single(Box::new(info)))
                .map_err(|e| bad(e.to_string())),
            None => Err(bad(
                "expected redis://, rediss://, redis+cluster:// or rediss+cluster://".into(),
            )),
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

fn resp3(info: &redis::ConnectionInfo) -> redis::ConnectionInfo {
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    info.clone().set_redis_settings(settings)
}

/// A lazily connected, self-reconnecting connection (commands, or pub/sub with `push`).
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(Arc<LazyCluster>),
}

pub(crate) struct LazyCluster {
    client: redis::cluster::ClusterClient,
    conn: OnceCell<ClusterConnection>,
}

/// One connection handle for one request.
pub(crate) enum Handle {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Conn {
    /// Commands only (`push` = None), or pub/sub: RESP3 with every push handed to `push`.
    pub fn open(
        target: &Target,
        push: Option<Arc<dyn AsyncPushSender>>,
    ) -> Result<Self, StoreError> {
        match target {
            Target::Single(info) => {
                let mut config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(500));
                let info = match push {
                    Some(push) => {
                        config = config
                            .set_push_sender(ArcPush(push))
                            .set_automatic_resubscription();
                        resp3(info)
                    }
                    None => (**info).clone(),
                };
                let client = redis::Client::open(info).map_err(unavailable)?;
                ConnectionManager::new_lazy_with_config(client, config)
                    .map(Self::Single)
                    .map_err(unavailable)
            }
            Target::Cluster(nodes) => {
                let mut builder = ClusterClientBuilder::new(nodes.clone())
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(RESPONSE_TIMEOUT)
                    .retries(2);
                if let Some(push) = push {
                    builder = builder
                        .use_protocol(ProtocolVersion::RESP3)
                        .push_sender(ArcPush(push));
                }
                let client = builder.build().map_err(unavailable)?;
                Ok(Self::Cluster(Arc::new(LazyCluster {
                    client,
                    conn: OnceCell::new(),
                })))
            }
        }
    }

    /// A handle to send commands on (connects a cluster on first use).
    pub async fn handle(&self) -> Result<Handle, StoreError> {
        match self {
            Self::Single(manager) => Ok(Handle::Single(manager.clone())),
            Self::Cluster(lazy) => lazy
                .conn
                .get_or_try_init(|| async {
                    tokio::time::timeout(CONNECT_TIMEOUT * 3, lazy.client.get_async_connection())
                        .await
                        .map_err(|_| {
                            StoreError::Unavailable("cluster connection timed out".into())
                        })?
                        .map_err(unavailable)
                })
                .await
                .cloned()
                .map(Handle::Cluster),
        }
    }

    /// `SUBSCRIBE` (single server) or `SSUBSCRIBE` (Cluster: sharded pub/sub) to `channels`.
    pub async fn subscribe(&self, channels: &[String]) -> Result<(), StoreError> {
        match self.handle().await? {
            Handle::Single(mut c) => c.subscribe(channels).await,
            Handle::Cluster(mut c) => c.ssubscribe(channels).await,
        }
        .map_err(unavailable)
    }

    pub async fn unsubscribe(&self, channels: &[String]) -> Result<(), StoreError> {
        match self.handle().await? {
            Handle::Single(mut c) => c.unsubscribe(channels).await,
            Handle::Cluster(mut c) => c.sunsubscribe(channels).await,
        }
        .map_err(unavailable)
    }
}

struct ArcPush(Arc<dyn AsyncPushSender>);

impl AsyncPushSender for ArcPush {
    fn send(&self, info: redis::PushInfo) -> Result<(), redis::aio::SendError> {
        self.0.send(info)
    }
}

impl ConnectionLike for Handle {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}
