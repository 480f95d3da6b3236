//! A compute gateway: a real HTTP server on loopback that places instances
//! on nodes, and can be told to fail the way real gateways do.
//!
//! `POST /v1/instances` with `{"name": ".."}` (and an `x-request-id`
//! header) answers:
//!
//! | status | fault | committed? |
//! |---|---|---|
//! | 201 | none | yes |
//! | 503 + `Retry-After: 1` | [`Fault::NoPlacement`]: no node has room; try again in [`Gateway::RETRY_AFTER`] | no |
//! | 500 | [`Fault::AgentCreateFailed`]: the node agent failed; the name stays registered until an asynchronous cleanup, so a same-name retry gets 409 | no |
//! | 502 | [`Fault::LostAnswer`]: the node created it, the gateway lost the answer | **yes** |
//! | 504 | [`Fault::GatewayTimeout`]: the node created it, too late for the gateway | **yes** |
//! | 201 late | [`Fault::Slow`]: the create finishes after the given time, whether or not the client still waits | **yes** |
//! | 409 | the name is registered already, or a create with the same `Idempotency-Key` is in progress | no |
//!
//! A create may carry an `Idempotency-Key` header: a repeated key is
//! answered with the instance the first create made (201 again, with
//! `Idempotent-Replayed: true`) instead of a second instance, and a name
//! held by a failed attempt with the same key does not conflict. That is
//! what makes a create safe to retry after a 502 or 504.
//!
//! [`Gateway::outage`] stops listening for a while: connections are refused.
//! `GET /v1/instances` lists what exists.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{oneshot, watch};

/// How the gateway answers one create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 503 with `Retry-After: 1`: no node can place the instance. Nothing
    /// is created.
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
    /// The create's `Idempotency-Key`, if it had one.
    pub key: Option<String>,
    /// Whether the answer was the replay of an earlier create's.
    pub replayed: bool,
}

/// Where a create with an `Idempotency-Key` stands.
enum Keyed {
    InProgress,
    Created(Instance),
}

#[derive(Default)]
struct Inner {
    instances: BTreeMap<String, Instance>,
    /// Names held by a create, committed or awaiting cleanup, with the
    /// `Idempotency-Key` of the create that holds them.
    registered: HashMap<String, Option<String>>,
    keys: HashMap<String, Keyed>,
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

    fn commit(&self, request: &str, name: &str, key: Option<&str>) -> Instance {
        let mut inner = self.lock();
        inner.next_node += 1;
        let instance = Instance {
            name: name.to_owned(),
            node: format!("node-{}", inner.next_node % 3 + 1),
            request: request.to_owned(),
        };
        inner.instances.insert(name.to_owned(), instance.clone());
        if let Some(key) = key {
            inner
                .keys
                .insert(key.to_owned(), Keyed::Created(instance.clone()));
        }
        instance
    }

    /// A create that made nothing: its key may be used again.
    fn forget(&self, key: Option<&str>) {
        if let Some(key) = key {
            self.lock().keys.remove(key);
        }
    }
}

#[derive(Deserialize)]
struct CreateBody {
    name: String,
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

fn created(instance: &Instance) -> Response {
    (StatusCode::CREATED, Json(serde_json::json!(instance))).into_response()
}

fn text_header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// What the gateway does with a create before any node is asked.
enum Admission {
    Replay(Instance),
    Conflict(&'static str),
    Proceed(Option<Fault>),
}

async fn create(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<CreateBody>,
) -> Response {
    let request = text_header(&headers, "x-request-id").unwrap_or_else(|| "-".to_owned());
    let key = text_header(&headers, "idempotency-key");
    let name = body.name;
    let admission = {
        let mut inner = shared.lock();
        let inner = &mut *inner;
        match key.as_ref().map(|key| inner.keys.get(key)) {
            Some(Some(Keyed::Created(instance))) => Admission::Replay(instance.clone()),
            Some(Some(Keyed::InProgress)) => {
                Admission::Conflict("a create with this idempotency key is in progress")
            }
            _ => match inner.registered.get(&name) {
                // A name held by an earlier attempt of the same keyed
                // create is this create's own.
                Some(holder) if key.is_none() || *holder != key => {
                    Admission::Conflict("name already registered")
                }
                _ => {
                    inner.registered.insert(name.clone(), key.clone());
                    if let Some(key) = &key {
                        inner.keys.insert(key.clone(), Keyed::InProgress);
                    }
                    Admission::Proceed(inner.plans.get_mut(&request).and_then(VecDeque::pop_front))
                }
            },
        }
    };
    let replayed = matches!(admission, Admission::Replay(_));
    let answer = match admission {
        Admission::Replay(instance) => {
            let mut answer = created(&instance);
            answer
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            answer
        }
        Admission::Conflict(message) => error(StatusCode::CONFLICT, message),
        Admission::Proceed(fault) => place(&shared, &request, &name, key.as_deref(), fault).await,
    };
    shared.lock().received.push(Received {
        request,
        name,
        status: answer.status().as_u16(),
        key,
        replayed,
    });
    answer
}

/// Asks a node to create `name`, failing as `fault` says.
async fn place(
    shared: &Shared,
    request: &str,
    name: &str,
    key: Option<&str>,
    fault: Option<Fault>,
) -> Response {
    match fault {
        Some(Fault::NoPlacement) => {
            shared.lock().registered.remove(name);
            shared.forget(key);
            let mut answer = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "no placement: no node has capacity",
            );
            let seconds = Gateway::RETRY_AFTER.as_secs().to_string();
            if let Ok(value) = HeaderValue::from_str(&seconds) {
                answer.headers_mut().insert(header::RETRY_AFTER, value);
            }
            answer
        }
        Some(Fault::AgentCreateFailed) => {
            shared.forget(key);
            let cleanup = shared.clone();
            let residue = name.to_owned();
            tokio::spawn(async move {
                tokio::time::sleep(Gateway::CLEANUP).await;
                cleanup.lock().registered.remove(&residue);
            });
            error(StatusCode::INTERNAL_SERVER_ERROR, "agent create failed")
        }
        Some(Fault::LostAnswer) => {
            shared.commit(request, name, key);
            error(StatusCode::BAD_GATEWAY, "lost the node's answer")
        }
        Some(Fault::GatewayTimeout) => {
            shared.commit(request, name, key);
            error(StatusCode::GATEWAY_TIMEOUT, "node answered too late")
        }
        Some(Fault::Slow(after)) => {
            // The node provisions whether or not the client still waits:
            // the commit runs in its own task, beyond this handler.
            let node = shared.clone();
            let (request, name, key) =
                (request.to_owned(), name.to_owned(), key.map(str::to_owned));
            let provisioning = tokio::spawn(async move {
                tokio::time::sleep(after).await;
                node.commit(&request, &name, key.as_deref())
            });
            match provisioning.await {
                Ok(instance) => created(&instance),
                Err(_) => error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "provisioning task failed",
                ),
            }
        }
        None => created(&shared.commit(request, name, key)),
    }
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
    /// Completes when the current server's listener is closed.
    closed: Arc<Mutex<Option<oneshot::Receiver<()>>>>,
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

/// A listener that says when it is closed: the server drops it when it
/// stops accepting, and from then on connections are refused.
struct Tracked {
    listener: TcpListener,
    _closed: oneshot::Sender<()>,
}

impl axum::serve::Listener for Tracked {
    type Io = TcpStream;
    type Addr = SocketAddr;

    fn accept(&mut self) -> impl Future<Output = (TcpStream, SocketAddr)> + Send {
        axum::serve::Listener::accept(&mut self.listener)
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// Serves the gateway on `listener` until `stop` is bumped. The receiver
/// completes once the listener is closed.
fn serve(
    shared: Shared,
    stop: &watch::Sender<u64>,
    listener: TcpListener,
) -> oneshot::Receiver<()> {
    let (closed, on_close) = oneshot::channel();
    let listener = Tracked {
        listener,
        _closed: closed,
    };
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
    on_close
}

impl Gateway {
    /// How long an agent-create failure keeps its name registered.
    pub const CLEANUP: Duration = Duration::from_secs(2);

    /// How long a 503 "no placement" asks clients to wait (`Retry-After`).
    pub const RETRY_AFTER: Duration = Duration::from_secs(1);

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
        let shared = Shared::default();
        let stop = Arc::new(stop);
        let closed = serve(shared.clone(), &stop, listener);
        Ok(Gateway {
            addr,
            shared,
            stop,
            closed: Arc::new(Mutex::new(Some(closed))),
        })
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

    /// Stops listening and listens again on the same port after `down`:
    /// meanwhile, connections are refused. When this returns, the listener
    /// is closed (on any runtime flavour: it waits for the server to drop
    /// it, not for a scheduling turn). The returned task ends when the
    /// gateway listens again.
    pub async fn outage(&self, down: Duration) -> tokio::task::JoinHandle<()> {
        let closed = self
            .closed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.stop.send_modify(|generation| *generation += 1);
        if let Some(closed) = closed {
            // Err is the sender dropped with the listener: what we wait for.
            let _ = closed.await;
        }
        let (addr, shared, stop) = (self.addr, self.shared.clone(), Arc::clone(&self.stop));
        let slot = Arc::clone(&self.closed);
        tokio::spawn(async move {
            tokio::time::sleep(down).await;
            match listen(addr) {
                Ok(listener) => {
                    let closed = serve(shared, &stop, listener);
                    *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(closed);
                }
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
