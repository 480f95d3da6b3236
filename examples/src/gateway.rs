//! A compute gateway: a real HTTP server on loopback that places instances
//! on nodes, and can be told to fail the way real gateways do.
//!
//! `POST /v1/instances` with `{"name": ".."}` (and an `x-request-id`
//! header) answers:
//!
//! | status | fault | committed? |
//! |---|---|---|
//! | 201 | none | yes |
//! | 503 | [`Fault::NoPlacement`]: no node has room | no |
//! | 500 | [`Fault::AgentCreateFailed`]: the node agent failed; the name stays registered until an asynchronous cleanup, so a same-name retry gets 409 | no |
//! | 502 | [`Fault::LostAnswer`]: the node created it, the gateway lost the answer | **yes** |
//! | 504 | [`Fault::GatewayTimeout`]: the node created it, too late for the gateway | **yes** |
//! | 201 late | [`Fault::Slow`]: the create finishes after the given time, whether or not the client still waits | **yes** |
//! | 409 | the name is registered already | no |
//!
//! [`Gateway::outage`] stops listening for a while: connections are refused.
//! `GET /v1/instances` lists what exists.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;

/// How the gateway answers one create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 503: no node can place the instance. Nothing is created.
    NoPlacement,
    /// 500: the node agent failed. Nothing is created, but the name stays
    /// registered until cleanup ([`Gateway::CLEANUP`] later).
    AgentCreateFailed,
    /// 502 after the instance was created: the answer was lost.
    LostAnswer,
    /// 504 after the instance was created: the node answered too late.
    GatewayTimeout,
    /// The create takes this long, then succeeds (even if the client has
    /// stopped waiting).
    Slow(Duration),
}

/// An instance that exists on a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub name: String,
    pub node: String,
    /// The request that created it.
    pub request: String,
}

/// One create the gateway received, and what it answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub request: String,
    pub name: String,
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    instances: BTreeMap<String, Instance>,
    /// Names held by a create, committed or awaiting cleanup.
    registered: HashMap<String, String>,
    plans: HashMap<String, VecDeque<Fault>>,
    received: Vec<Received>,
    next_node: usize,
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Inner>>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn commit(&self, request: &str, name: &str) -> Instance {
        let mut inner = self.lock();
        inner.next_node += 1;
        let instance = Instance {
            name: name.to_owned(),
            node: format!("node-{}", inner.next_node % 3 + 1),
            request: request.to_owned(),
        };
        inner.instances.insert(name.to_owned(), instance.clone());
        instance
    }
}

#[derive(Deserialize)]
struct CreateBody {
    name: String,
}

type Answer = (StatusCode, Json<serde_json::Value>);

fn error(status: StatusCode, message: &str) -> Answer {
    (status, Json(serde_json::json!({ "error": message })))
}

async fn create(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<CreateBody>,
) -> Answer {
    let request = headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let name = body.name;
    let (fault, conflict) = {
        let mut inner = shared.lock();
        let conflict = inner.registered.contains_key(&name);
        let fault = inner.plans.get_mut(&request).and_then(VecDeque::pop_front);
        if !conflict {
            inner.registered.insert(name.clone(), request.clone());
        }
        (fault, conflict)
    };
    let answer = if conflict {
        error(StatusCode::CONFLICT, "name already registered")
    } else {
        match fault {
            Some(Fault::NoPlacement) => {
                shared.lock().registered.remove(&name);
                error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "no placement: no node has capacity",
                )
            }
            Some(Fault::AgentCreateFailed) => {
                let cleanup = shared.clone();
                let residue = name.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Gateway::CLEANUP).await;
                    cleanup.lock().registered.remove(&residue);
                });
                error(StatusCode::INTERNAL_SERVER_ERROR, "agent create failed")
            }
            Some(Fault::LostAnswer) => {
                shared.commit(&request, &name);
                error(StatusCode::BAD_GATEWAY, "lost the node's answer")
            }
            Some(Fault::GatewayTimeout) => {
                shared.commit(&request, &name);
                error(StatusCode::GATEWAY_TIMEOUT, "node answered too late")
            }
            Some(Fault::Slow(after)) => {
                // The node provisions whether or not the client still waits:
                // the commit runs in its own task, beyond this handler.
                let node = shared.clone();
                let (request, name) = (request.clone(), name.clone());
                let provisioning = tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    node.commit(&request, &name)
                });
                match provisioning.await {
                    Ok(instance) => (StatusCode::CREATED, Json(serde_json::json!(instance))),
                    Err(_) => error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "provisioning task failed",
                    ),
                }
            }
            None => {
                let instance = shared.commit(&request, &name);
                (StatusCode::CREATED, Json(serde_json::json!(instance)))
            }
        }
    };
    shared.lock().received.push(Received {
        request,
        name,
        status: answer.0.as_u16(),
    });
    answer
}

async fn list(State(shared): State<Shared>) -> Json<Vec<Instance>> {
    Json(shared.lock().instances.values().cloned().collect())
}

/// A running gateway. Dropping it stops the server.
pub struct Gateway {
    addr: SocketAddr,
    shared: Shared,
    /// Bumped to stop the current server (outage or drop).
    stop: Arc<watch::Sender<u64>>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    // Rebinding the same port after an outage must not wait for TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Serves the gateway on `listener` until `stop` is bumped.
fn serve(shared: Shared, stop: &watch::Sender<u64>, listener: TcpListener) {
    let app = Router::new()
        .route("/v1/instances", post(create).get(list))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(shared);
    let mut stopped = stop.subscribe();
    stopped.mark_unchanged();
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.changed().await;
        };
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
    });
}

impl Gateway {
    /// How long an agent-create failure keeps its name registered.
    pub const CLEANUP: Duration = Duration::from_secs(2);

    /// Starts a gateway on `127.0.0.1` and an unused port, served by a task
    /// of the current tokio runtime.
    ///
    /// # Errors
    ///
    /// If no loopback port can be bound.
    pub fn start() -> std::io::Result<Gateway> {
        let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = listener.local_addr()?;
        let (stop, _) = watch::channel(0);
        let gateway = Gateway {
            addr,
            shared: Shared::default(),
            stop: Arc::new(stop),
        };
        serve(gateway.shared.clone(), &gateway.stop, listener);
        Ok(gateway)
    }

    /// The base URL, e.g. `http://127.0.0.1:43117`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The faults to answer the next creates of `request` with, in order;
    /// creates beyond the plan succeed.
    pub fn plan(&self, request: &str, faults: impl IntoIterator<Item = Fault>) {
        self.shared
            .lock()
            .plans
            .insert(request.to_owned(), faults.into_iter().collect());
    }

    /// Stops listening now and listens again on the same port after `down`:
    /// meanwhile, connections are refused. The returned task ends when the
    /// gateway listens again.
    pub async fn outage(&self, down: Duration) -> tokio::task::JoinHandle<()> {
        self.stop.send_modify(|generation| *generation += 1);
        // Let the server task drop its listener before anyone connects.
        tokio::task::yield_now().await;
        let (addr, shared, stop) = (self.addr, self.shared.clone(), Arc::clone(&self.stop));
        tokio::spawn(async move {
            tokio::time::sleep(down).await;
            match listen(addr) {
                Ok(listener) => serve(shared, &stop, listener),
                Err(error) => tracing::error!(%error, "gateway could not listen again"),
            }
        })
    }

    /// Every create received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().received.clone()
    }

    /// The creates received for `request`.
    pub fn received_for(&self, request: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.request == request)
            .collect()
    }

    /// Instances that exist, by name.
    pub fn instances(&self) -> Vec<Instance> {
        self.shared.lock().instances.values().cloned().collect()
    }

    /// Instances created for `request`.
    pub fn instances_for(&self, request: &str) -> Vec<Instance> {
        self.instances()
            .into_iter()
            .filter(|i| i.request == request)
            .collect()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop.send_modify(|generation| *generation += 1);
    }
}
