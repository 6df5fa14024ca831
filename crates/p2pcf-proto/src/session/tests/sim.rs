//! A synthetic-time harness: several Sessions, an in-memory model of the worker's
//! poll/publish/leave, and a fake WebRTC layer that reports gathering and connection.

use std::collections::BTreeMap;

use base64::Engine;

use crate::config::ClientConfig;
use crate::sdp::NetworkSettings;
use crate::session::*;
use crate::wire::{Package, PeerData, PollRequest, PollResponse, RemotePeer};
use crate::{ClientId, ContextId, RoomId, SessionId};

struct Entry {
    data: PeerData,
    t: i64,
    packages: Vec<Package>,
    dk: String,
    expires_at: u64,
}

/// The worker's room logic for one room, reduced to what the client observes.
#[derive(Default)]
pub struct FakeWorker {
    entries: BTreeMap<String, Entry>,
    next_dk: u64,
    /// Entries written (context id, t) in order.
    pub writes: Vec<(String, i64)>,
}

impl FakeWorker {
    pub fn handle(
        &mut self,
        now: u64,
        req: &PollRequest,
        leave: bool,
    ) -> Result<PollResponse, PollError> {
        self.entries.retain(|_, e| e.expires_at > now);
        let k = req.context.as_str().to_owned();
        if leave {
            let ok = match (&req.delete_key, &req.data, self.entries.get(&k)) {
                (Some(dk), Some(d), Some(e)) => *dk == e.dk && d.session_id == e.data.session_id,
                _ => false,
            };
            if !ok {
                return Err(PollError {
                    status: Some(404),
                    text: "No delete key".into(),
                });
            }
            self.entries.remove(&k);
            return Ok(PollResponse::default());
        }
        let mut dk = None;
        if let (Some(d), Some(p), Some(t), Some(x)) = (
            &req.data,
            &req.packages,
            req.data_timestamp,
            req.expiration_ms,
        ) {
            let expires_at = now + x.min(15 * 60 * 1000);
            match self.entries.get_mut(&k) {
                Some(e) => {
                    if e.t != t {
                        e.data = d.clone();
                        e.t = t;
                        e.packages = p.clone();
                        e.expires_at = expires_at;
                        self.writes.push((k.clone(), t));
                    }
                    dk = Some(e.dk.clone());
                }
                None => {
                    self.next_dk += 1;
                    let key = format!("dk{}", self.next_dk);
                    self.entries.insert(
                        k.clone(),
                        Entry {
                            data: d.clone(),
                            t,
                            packages: p.clone(),
                            dk: key.clone(),
                            expires_at,
                        },
                    );
                    self.writes.push((k.clone(), t));
                    dk = Some(key);
                }
            }
        }
        let mut resp = PollResponse {
            delete_key: dk,
            ..Default::default()
        };
        for (ek, e) in &self.entries {
            if *ek == k {
                continue;
            }
            resp.peers.push(RemotePeer {
                data: e.data.clone(),
                data_timestamp: e.t,
            });
            if let Some(d) = &req.data {
                resp.packages
                    .extend(e.packages.iter().filter(|p| p.to == d.session_id).cloned());
            }
        }
        Ok(resp)
    }

    /// Inserts an entry directly (a peer that never polls).
    pub fn insert_static(&mut self, k: &str, data: PeerData, t: i64, expires_at: u64) {
        self.next_dk += 1;
        let dk = format!("dk{}", self.next_dk);
        self.entries.insert(
            k.into(),
            Entry {
                data,
                t,
                packages: vec![],
                dk,
                expires_at,
            },
        );
    }

    pub fn has_entry(&self, k: &str) -> bool {
        self.entries.contains_key(k)
    }
}

pub struct Node {
    pub session: Session,
    inbox: Vec<(u64, Input)>,
    /// Every output with its time.
    pub log: Vec<(u64, Output)>,
}

impl Node {
    pub fn requests(&self) -> Vec<(u64, PollRequest, bool)> {
        self.log
            .iter()
            .filter_map(|(t, o)| match o {
                Output::SendRequest { body, leave, .. } => Some((*t, body.clone(), *leave)),
                _ => None,
            })
            .collect()
    }

    pub fn events(&self) -> Vec<SessionEvent> {
        self.log
            .iter()
            .filter_map(|(_, o)| match o {
                Output::Event(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn outputs<T>(&self, f: impl Fn(&Output) -> Option<T>) -> Vec<(u64, T)> {
        self.log
            .iter()
            .filter_map(|(t, o)| f(o).map(|v| (*t, v)))
            .collect()
    }

    pub fn sid(&self) -> SessionId {
        self.session.identity().session_id.clone()
    }
}

pub struct Sim {
    pub now: u64,
    pub worker: FakeWorker,
    pub nodes: Vec<Node>,
    pub latency: u64,
    pub worker_down: Option<PollError>,
    pub auto_gather: bool,
    pub auto_connect: bool,
    pub gather_ms: u64,
    pub connect_ms: u64,
    pub config: ClientConfig,
}

pub const T0: u64 = 1_700_000_000_000;

pub fn fingerprint(i: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode([i as u8 + 1; 32])
}

pub fn settings(ips: &[&str], symmetric: bool) -> NetworkSettings {
    NetworkSettings {
        udp_enabled: !ips.is_empty(),
        is_symmetric: symmetric,
        reflexive_ips: ips.iter().map(|s| s.to_string()).collect(),
    }
}

impl Sim {
    pub fn new(config: ClientConfig) -> Self {
        Self {
            now: T0,
            worker: FakeWorker::default(),
            nodes: Vec::new(),
            latency: 50,
            worker_down: None,
            auto_gather: true,
            auto_connect: true,
            gather_ms: 100,
            connect_ms: 2000,
            config,
        }
    }

    /// A client that starts at `joined_at` and learns its network settings 200 ms later.
    pub fn add_node(&mut self, joined_at: u64, symmetric: bool, ips: &[&str]) -> usize {
        let i = self.nodes.len();
        let identity = LocalIdentity {
            room_id: RoomId::new("testroom").unwrap(),
            session_id: SessionId::from_wire(format!("sess{i}")),
            context_id: ContextId::from_wire(format!("ctx{i}")),
            client_id: ClientId::new(format!("client{i}")).unwrap(),
            dtls_fingerprint_b64: fingerprint(i),
            joined_at_ms: joined_at,
        };
        let session = Session::new(self.config.clone(), identity, [i as u8; 32]);
        let settings = Input::NetworkSettings {
            now: joined_at + 200,
            settings: settings(ips, symmetric),
        };
        self.nodes.push(Node {
            session,
            inbox: vec![(joined_at + 200, settings)],
            log: vec![],
        });
        i
    }

    pub fn push(&mut self, node: usize, at: u64, input: Input) {
        self.nodes[node].inbox.push((at, input));
    }

    fn next_time(&self) -> Option<u64> {
        self.nodes
            .iter()
            .flat_map(|n| {
                n.inbox
                    .iter()
                    .map(|(t, _)| *t)
                    .chain(n.session.poll_timeout())
            })
            .min()
    }

    pub fn run_until(&mut self, until: u64) {
        while let Some(t) = self.next_time() {
            if t > until {
                break;
            }
            assert!(t >= self.now, "time went backwards: {t} < {}", self.now);
            self.now = t;
            for i in 0..self.nodes.len() {
                let node = &mut self.nodes[i];
                node.inbox.sort_by_key(|(t, _)| *t);
                let due: Vec<Input> = {
                    let n = node.inbox.iter().take_while(|(at, _)| *at <= t).count();
                    node.inbox.drain(..n).map(|(_, i)| i).collect()
                };
                for input in due {
                    node.session.handle_input(input);
                }
                if node.session.poll_timeout().is_some_and(|d| d <= t) {
                    node.session.handle_input(Input::Timeout { now: t });
                }
                self.drain(i);
            }
        }
        self.now = until;
    }

    fn drain(&mut self, i: usize) {
        let now = self.now;
        while let Some(out) = self.nodes[i].session.poll_output() {
            match &out {
                Output::SendRequest { id, body, leave } => {
                    let result = match &self.worker_down {
                        Some(e) => Err(e.clone()),
                        None => self.worker.handle(now, body, *leave),
                    };
                    let input = match result {
                        Err(error) => Input::PollFailed {
                            now: now + self.latency,
                            request_id: *id,
                            error,
                        },
                        Ok(response) => Input::PollSucceeded {
                            now: now + self.latency,
                            request_id: *id,
                            response,
                        },
                    };
                    self.push(i, now + self.latency, input);
                }
                Output::CreateInitiator(c) if self.auto_gather => {
                    let ready = Input::InitiatorReady {
                        now: now + self.gather_ms,
                        peer: c.peer.clone(),
                        ufrag: format!("ufrag{i}"),
                        pwd: format!("pwd{i}"),
                        dtls_fingerprint_b64: fingerprint(i),
                        candidates: vec![format!(
                            "candidate:1 1 udp 2122260223 10.0.0.{i} 5000 typ host"
                        )],
                    };
                    self.push(i, now + self.gather_ms, ready);
                }
                Output::CreateAnswerer(c) => {
                    if self.auto_gather {
                        let cands = Input::AnswererCandidates {
                            now: now + self.gather_ms,
                            peer: c.peer.clone(),
                            candidates: vec![format!(
                                "candidate:2 1 udp 2122260223 10.0.1.{i} 6000 typ host"
                            )],
                        };
                        self.push(i, now + self.gather_ms, cands);
                    }
                    if self.auto_connect {
                        let at = now + self.connect_ms;
                        let me = self.nodes[i].sid();
                        self.push(
                            i,
                            at,
                            Input::PeerConnected {
                                now: at,
                                peer: c.peer.clone(),
                            },
                        );
                        if let Some(j) = self.nodes.iter().position(|n| n.sid() == c.peer) {
                            self.push(j, at, Input::PeerConnected { now: at, peer: me });
                        }
                    }
                }
                _ => {}
            }
            self.nodes[i].log.push((now, out));
        }
    }
}
