//! The GraphQL subscription `events(types:)` (over `graphql-transport-ws`
//! at `/graphql/ws`): the events the outbox feed hands out (`events.rs`),
//! each as its CloudEvents attributes and data.

use std::sync::Arc;

use async_graphql::futures_util::Stream;
use async_graphql::{Context, Json, SimpleObject, Subscription};
use provgraph_store::outbox::EventKind;
use serde_json::Value;
use tokio::sync::broadcast;

/// One event, delivered the same way to webhooks and subscribers.
#[derive(Clone, Debug, PartialEq)]
pub struct CloudEvent {
    pub seq: i64,
    pub kind: EventKind,
    /// The structured-mode JSON document (`application/cloudevents+json`).
    pub document: Value,
}

impl CloudEvent {
    /// The event's `id`: distinct per event, the same on every retry and
    /// after a restart.
    pub fn id(&self) -> &str {
        self.document["id"].as_str().unwrap_or_default()
    }
}

/// The in-process feed of events for subscribers (a subscriber too slow
/// to keep up with [`FEED_CAPACITY`] events misses the ones it fell behind).
#[derive(Clone)]
pub struct EventFeed(pub(crate) broadcast::Sender<Arc<CloudEvent>>);

/// Events a subscriber may fall behind by.
pub const FEED_CAPACITY: usize = 4096;

impl Default for EventFeed {
    fn default() -> EventFeed {
        EventFeed(broadcast::channel(FEED_CAPACITY).0)
    }
}

/// One event as the subscription gives it: the CloudEvents attributes and
/// `data` as JSON.
#[derive(SimpleObject, Clone, Debug)]
pub struct Event {
    pub id: String,
    #[graphql(name = "type")]
    pub event_type: String,
    pub source: String,
    pub subject: String,
    pub time: String,
    pub data: Json<Value>,
}

impl Event {
    fn new(event: &CloudEvent) -> Event {
        let text = |name: &str| {
            event.document[name]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        Event {
            id: text("id"),
            event_type: text("type"),
            source: text("source"),
            subject: text("subject"),
            time: text("time"),
            data: Json(event.document["data"].clone()),
        }
    }
}

/// The subscription root.
#[derive(Default)]
pub struct EventSubscription;

#[Subscription(name = "Subscription")]
impl EventSubscription {
    /// Events as they are committed (CloudEvents attributes; `data` as
    /// for webhooks), only those of `types` when given (e.g.
    /// `["dev.provgraph.workload.started"]`).
    async fn events(
        &self,
        ctx: &Context<'_>,
        types: Option<Vec<String>>,
    ) -> impl Stream<Item = Event> {
        let receiver = ctx.data_opt::<EventFeed>().map(|feed| feed.0.subscribe());
        async_graphql::futures_util::stream::unfold(
            (receiver, types),
            |(receiver, types)| async move {
                let mut receiver = receiver?;
                loop {
                    match receiver.recv().await {
                        Ok(event) => {
                            let wanted = types.as_ref().is_none_or(|types| {
                                types
                                    .iter()
                                    .any(|t| Some(t.as_str()) == event.kind.cloud_type())
                            });
                            if wanted {
                                return Some((Event::new(&event), (Some(receiver), types)));
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            },
        )
    }
}
