//! One link's control plane as a state machine, in the shape of quinn-proto's `Connection`:
//! no tokio, no sockets, no locks, no clock of its own.
//!
//! The driver (`cluster::link`) feeds it the peer's control frames ([`LinkState::handle_frame`]),
//! the passing of time ([`LinkState::handle_timeout`], at the instant
//! [`LinkState::poll_timeout`] named) and the application's commands (monitor, demonitor,
//! lookup), each with `now`. After each call it takes what the machine asks for with
//! [`LinkState::poll`] ([`Output`]: frames to send, `Down`s to deliver, hooks to attach and
//! detach, the peer's announcements to apply) and carries it out, outside the machine.
//!
//! SEND and SEND_NAMED frames never come here: the data path delivers them where they lie in
//! the read buffer.
//!
//! Every frame a peer sends costs O(1) here (hash maps keyed by the frame's own numbers and
//! names); [`LinkState::close`] costs O(what the link brought).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reign_tls::NodeId;

use crate::proto::cert_update::Pacing;
use crate::proto::reason::DownReason;
use crate::proto::reason::{CertificateVerdict, LinkDownReason, ProtocolViolation};
use crate::proto::wire::{self, Frame, Text};
use crate::{MailboxId, MailboxRef, MonitorId};

/// The expiry of the peer's certificate is checked against the wall clock at least this
/// often, so that a clock that jumps forward is noticed.
pub(crate) const EXPIRY_RECHECK: Duration = Duration::from_secs(3600);

/// What a link allows its peer and how it keeps time.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// How often a heartbeat is sent.
    pub(crate) heartbeat_interval: Duration,
    /// The link ends when nothing has arrived for this long.
    pub(crate) silence_limit: Duration,
    /// The most monitors the peer may hold on this node's mailboxes over this link.
    pub(crate) max_monitors: usize,
    /// The most names and group memberships the peer may hold over this link.
    pub(crate) max_announced: usize,
}

/// Where a link is in its life. A link exists once the handshake (reign-tls) has proved the
/// peer's identity, so its life starts at `Syncing`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Authenticated; the peer's names and groups are arriving, SYNCED has not.
    Syncing,
    /// The peer's SYNCED arrived: the link is in service (reported up).
    InService,
    /// This node is closing the link gracefully (flush, GOODBYE). `was_up`: whether it was
    /// in service, so whether its end is reported.
    Closing {
        /// Whether the link was in service when closing began.
        was_up: bool,
    },
    /// The link has ended; nothing it brought is held any more.
    Dead(LinkDownReason),
}

/// What the machine asks its driver to do, in order.
#[derive(Debug)]
pub(crate) enum Output<H> {
    /// Queue this frame in order with messages.
    Send(Frame),
    /// Queue this frame ahead of messages.
    SendUrgent(Frame),
    /// The peer's first SYNCED: report it up.
    Up,
    /// A local watcher's monitor of a mailbox on the peer fired.
    Down {
        /// The local mailbox that asked.
        watcher: MailboxId,
        /// Its monitor.
        monitor: MonitorId,
        /// The peer's mailbox it watched.
        target: MailboxRef,
        /// Why it fired.
        reason: DownReason,
        /// Why the link ended, when that is why it fired.
        link: Option<LinkDownReason>,
    },
    /// The peer monitors local mailbox `target`: attach an end hook to it that calls
    /// [`LinkState::local_down`] with `peer_monitor` and `token`, then report the hook (or
    /// that the mailbox has ended) with [`LinkState::watched`].
    Watch {
        /// The peer's monitor ID.
        peer_monitor: u64,
        /// Tells this watch from an earlier one under the same ID.
        token: u64,
        /// The local mailbox.
        target: MailboxId,
    },
    /// Detach this hook: the peer cancelled or replaced its monitor, or the link ended.
    Unwatch(H),
    /// The peer's server `from` removed the link local server `target` made with it (UNLINK):
    /// the LINK's monitor is cancelled already; `target` is told. At most once per link.
    Unlinked {
        /// The local server.
        target: MailboxId,
        /// The peer's server.
        from: u64,
    },
    /// An exit signal for local server `target` from the peer's server `from`, which linked
    /// itself with it: `from` ended with `reason` (EXIT), or the link ended
    /// (`NoConnection`). At most once per link the peer made. (A link the peer made costs the
    /// server nothing until then: the record is here.)
    Exit {
        /// The local server.
        target: MailboxId,
        /// The peer's server.
        from: u64,
        /// Why.
        reason: DownReason,
    },
    /// The peer asks which mailbox is registered as `name` here: answer with LOOKUP_REPLY.
    Lookup {
        /// The peer's request number (echoed in the reply).
        request: u64,
        /// The name.
        name: Text,
    },
    /// The answer to this node's lookup `request`.
    LookupAnswered {
        /// The request.
        request: u64,
        /// The mailbox and its type tag, when the name exists.
        found: Option<(u64, String)>,
    },
    /// This node's lookup `request` will not be answered: the link ended.
    LookupAbandoned {
        /// The request.
        request: u64,
    },
    /// The peer claims cluster-wide name `name` for its mailbox `mailbox`.
    NameAdd {
        /// The name (the one allocation of it the node needs).
        name: Arc<str>,
        /// The peer's mailbox.
        mailbox: u64,
        /// Its type tag.
        tag: Text,
    },
    /// The peer withdraws its claim of `name` (`mailbox` 0: whatever it claimed).
    NameRemove {
        /// The name.
        name: Text,
        /// The peer's mailbox, or 0.
        mailbox: u64,
    },
    /// The peer's mailbox joins `group`.
    GroupJoin {
        /// The group (shared by all of the link's memberships in it).
        group: Arc<str>,
        /// The peer's mailbox.
        mailbox: u64,
        /// Its type tag.
        tag: Text,
    },
    /// The peer's mailbox leaves `group`.
    GroupLeave {
        /// The group.
        group: Text,
        /// The peer's mailbox.
        mailbox: u64,
    },
    /// The peer sent a new certificate chain with its proof (CERT_UPDATE, within its pace):
    /// check it as a handshake would and, if it passes, record it and call
    /// [`LinkState::set_valid_until`]; if not, end the link with the refusal.
    VerifyCertificateUpdate {
        /// The signature scheme.
        scheme: u16,
        /// The signature over the exporter value.
        signature: bytes::Bytes,
        /// The chain, leaf first.
        chain: Vec<bytes::Bytes>,
    },
    /// This node's certificate changed: send the peer a CERT_UPDATE (made now, with the
    /// material current now).
    SendCertificateUpdate,
    /// The link ended: the claims and memberships it brought go. First of what
    /// [`LinkState::close`] hands back, so that whoever a `Down` wakes sees them gone.
    Forget {
        /// The names the peer claimed over the link.
        names: Vec<Arc<str>>,
        /// Its memberships: (group, mailbox).
        memberships: Vec<(Arc<str>, u64)>,
    },
}

/// The peer's monitor of one local mailbox.
#[derive(Debug)]
struct Incoming<H> {
    /// The peer's mailbox that watches (echoed in the DOWN frame).
    watcher: u64,
    target: MailboxId,
    token: u64,
    /// `None` until the driver has attached it.
    hook: Option<H>,
    /// Made by LINK: the peer's server `watcher` is linked with `target`.
    link: bool,
}

/// The control-plane state of one link. `H` is the driver's handle on an end hook attached to
/// a local mailbox (the socket-free harness uses a plain value).
#[derive(Debug)]
pub(crate) struct LinkState<H> {
    peer: NodeId,
    peer_incarnation: u64,
    own_incarnation: u64,
    limits: Limits,
    phase: Phase,
    /// When bytes last arrived from the peer.
    last_rx: Instant,
    next_heartbeat: Instant,
    nonce: u64,
    /// The peer's certificate chain is valid until then (wall clock).
    valid_until: SystemTime,
    /// This node's monitors of the peer's mailboxes: monitor -> (watcher, target).
    outgoing: HashMap<MonitorId, (MailboxId, MailboxRef)>,
    /// The peer's monitors of this node's mailboxes, by the peer's monitor ID.
    incoming: HashMap<u64, Incoming<H>>,
    /// The peer's links (the `incoming` made by LINK), by (peer's server, local server):
    /// the monitor ID of each, so that an EXIT finds its link in O(1).
    links_in: HashMap<(u64, MailboxId), u64>,
    /// This node's links with the peer's servers (the `outgoing` its LINKs made), by (local
    /// server, peer's server): what an UNLINK may undo.
    links_out: HashMap<(MailboxId, u64), MonitorId>,
    next_token: u64,
    /// This node's lookups waiting for the peer's answer.
    lookups: HashSet<u64>,
    /// The names the peer claims over this link, with the mailbox claiming each.
    names: HashMap<Arc<str>, u64>,
    /// The group memberships the peer holds over this link: group -> its mailboxes.
    members: HashMap<Arc<str>, HashSet<u64>>,
    /// How many memberships `members` holds.
    memberships: usize,
    /// The pace of certificate updates both ways.
    updates: Pacing,
    out: VecDeque<Output<H>>,
}

impl<H> LinkState<H> {
    /// A link with `peer` (in its life `peer_incarnation`) that has just been authenticated
    /// at `now`. The first heartbeat is due at once.
    pub(crate) fn new(
        now: Instant,
        peer: NodeId,
        peer_incarnation: u64,
        own_incarnation: u64,
        limits: Limits,
        valid_until: SystemTime,
    ) -> Self {
        Self {
            peer,
            peer_incarnation,
            own_incarnation,
            limits,
            phase: Phase::Syncing,
            last_rx: now,
            next_heartbeat: now,
            nonce: 0,
            valid_until,
            outgoing: HashMap::new(),
            incoming: HashMap::new(),
            links_in: HashMap::new(),
            links_out: HashMap::new(),
            next_token: 0,
            lookups: HashSet::new(),
            names: HashMap::new(),
            members: HashMap::new(),
            memberships: 0,
            updates: Pacing::new(now),
            out: VecDeque::new(),
        }
    }

    /// This node's own certificate changed (a reload brought a new one) at `now`: tell the
    /// peer, at the pace of [`crate::proto::cert_update`].
    pub(crate) fn own_certificate_changed(&mut self, now: Instant) {
        if !self.is_dead() && self.updates.own_changed(now) {
            self.out.push_back(Output::SendCertificateUpdate);
        }
    }

    /// The peer's verified chain (after an accepted certificate update) is valid until then.
    pub(crate) fn set_valid_until(&mut self, valid_until: SystemTime) {
        self.valid_until = valid_until;
    }

    /// Where the link is in its life.
    #[cfg(test)]
    pub(crate) fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The next thing the driver is to do, if any.
    pub(crate) fn poll(&mut self) -> Option<Output<H>> {
        self.out.pop_front()
    }

    /// How much the peer holds over this link: (its monitors of ours, ours of its mailboxes,
    /// its names and memberships).
    pub(crate) fn held(&self) -> (usize, usize, usize) {
        (self.incoming.len(), self.outgoing.len(), self.announced())
    }

    fn announced(&self) -> usize {
        self.names.len() + self.memberships
    }

    fn is_dead(&self) -> bool {
        matches!(self.phase, Phase::Dead(_))
    }

    /// When bytes last arrived from the peer.
    #[cfg(test)]
    pub(crate) fn last_received(&self) -> Instant {
        self.last_rx
    }

    /// Bytes from the peer arrived at `at`: it is alive.
    pub(crate) fn received(&mut self, at: Instant) {
        if at > self.last_rx {
            self.last_rx = at;
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due: the next heartbeat, the
    /// instant the peer's silence reaches the limit, or the next check of its certificate's
    /// expiry (`wall` is the wall clock at `now`). `None` once the link is dead.
    pub(crate) fn poll_timeout(&self, now: Instant, wall: SystemTime) -> Option<Instant> {
        if self.is_dead() {
            return None;
        }
        let silence = self.last_rx + self.limits.silence_limit;
        let left = self
            .valid_until
            .duration_since(wall)
            .unwrap_or(Duration::ZERO);
        let expiry = now + left.min(EXPIRY_RECHECK);
        let next = self.next_heartbeat.min(silence).min(expiry);
        Some(self.updates.next_wake().map_or(next, |w| next.min(w)))
    }

    /// Time has passed. `Err` ends the link: the peer was silent for the whole silence limit
    /// (at that exact instant), or its certificate expired.
    pub(crate) fn handle_timeout(
        &mut self,
        now: Instant,
        wall: SystemTime,
    ) -> Result<(), LinkDownReason> {
        if self.is_dead() {
            return Ok(());
        }
        if wall >= self.valid_until {
            reign_tls::warn_limited!(peer = %self.peer, "closing link: the peer's certificate expired");
            return Err(LinkDownReason::CertificateExpired);
        }
        let silent = now.saturating_duration_since(self.last_rx);
        if silent >= self.limits.silence_limit {
            reign_tls::warn_limited!(peer = %self.peer, silent_ms = silent.as_millis() as u64, "peer silent past the limit");
            return Err(LinkDownReason::HeartbeatTimeout);
        }
        if self.updates.on_timeout(now) {
            self.out.push_back(Output::SendCertificateUpdate);
        }
        if now >= self.next_heartbeat {
            self.nonce += 1;
            self.out
                .push_back(Output::SendUrgent(Frame::Heartbeat { nonce: self.nonce }));
            self.next_heartbeat = now + self.limits.heartbeat_interval;
        }
        Ok(())
    }

    /// A control frame from the peer. `Err` ends the link with that reason; the frame that
    /// broke a rule changed nothing. `live` says whether a local mailbox exists; it is asked
    /// only for a MONITOR at the cap (one of a mailbox that has ended holds nothing, so it is
    /// answered, not counted).
    pub(crate) fn handle_frame(
        &mut self,
        frame: Frame,
        live: &dyn Fn(MailboxId) -> bool,
    ) -> Result<(), LinkDownReason> {
        if self.is_dead() {
            return Ok(());
        }
        match frame {
            // The data path's, the operator service's (cluster/operator) and the registry's
            // (cluster/join); nothing of the control plane.
            Frame::Send { .. }
            | Frame::SendNamed { .. }
            | Frame::Heartbeat { .. }
            | Frame::RenewPrepare { .. }
            | Frame::RenewInstall { .. }
            | Frame::RenewReply { .. }
            | Frame::Advertise { .. }
            | Frame::Hint { .. } => {}
            Frame::Goodbye { reason } => {
                return Err(match CertificateVerdict::from_goodbye(reason) {
                    Some(v) => LinkDownReason::RefusedByPeer(v),
                    None if reason == crate::proto::wire::GOODBYE_DUPLICATE_ID => {
                        LinkDownReason::DuplicateId
                    }
                    // 0 (shutting down), 1 (a link exists) and any value not known: the end.
                    None => LinkDownReason::PeerShutDown,
                });
            }
            Frame::CertUpdate {
                scheme,
                signature,
                chain,
            } => {
                if !self.updates.peer_update() {
                    return Err(LinkDownReason::ProtocolError(
                        ProtocolViolation::CertificateUpdatesTooFast,
                    ));
                }
                self.out.push_back(Output::VerifyCertificateUpdate {
                    scheme,
                    signature,
                    chain,
                });
            }
            Frame::Synced => {
                // Only the first counts: a peer repeating it does not repeat `Up`.
                if self.phase == Phase::Syncing {
                    self.phase = Phase::InService;
                    self.out.push_back(Output::Up);
                }
            }
            Frame::Monitor {
                monitor,
                watcher,
                target,
                target_incarnation,
            } => {
                // The peer's MONITOR of local mailbox `target`.
                self.peer_watch(monitor, watcher, target, target_incarnation, live, false)?;
            }
            Frame::Demonitor { monitor } => {
                if let Some(rec) = self.take_incoming(monitor) {
                    self.unwatch(rec);
                }
            }
            Frame::Link {
                monitor,
                watcher,
                target,
                target_incarnation,
            } => {
                // The peer's LINK: a monitor of `target` (which reports its end to the
                // peer's server `watcher`, as DOWN), recorded as a link.
                self.peer_watch(monitor, watcher, target, target_incarnation, live, true)?;
            }
            Frame::Exit {
                from,
                target,
                target_incarnation,
                reason,
                text,
            } => self.peer_exit(
                from,
                target,
                target_incarnation,
                down_reason(reason, text.as_str()),
            ),
            Frame::Unlink {
                from,
                target,
                target_incarnation,
            } => {
                // Only for a link this node's server made with `from` (its LINK's monitor):
                // the monitor is cancelled here, and the server told, once.
                if target_incarnation == self.own_incarnation
                    && let Some(monitor) = self.links_out.remove(&(MailboxId(target), from))
                {
                    self.outgoing.remove(&monitor);
                    self.out
                        .push_back(Output::Send(Frame::Demonitor { monitor: monitor.0 }));
                    self.out.push_back(Output::Unlinked {
                        target: MailboxId(target),
                        from,
                    });
                }
            }
            Frame::Down {
                monitor,
                watcher,
                target,
                target_incarnation,
                reason,
                text,
            } => self.peer_down(
                MonitorId(monitor),
                watcher,
                target,
                target_incarnation,
                down_reason(reason, text.as_str()),
            ),
            Frame::Lookup { request, name } => {
                self.out.push_back(Output::Lookup { request, name });
            }
            Frame::LookupReply { request, found } => {
                // Only for lookups this node sent this peer: a reply to another node's
                // request, or to none, is ignored.
                if self.lookups.remove(&request) {
                    self.out.push_back(Output::LookupAnswered {
                        request,
                        found: found.map(|(id, tag)| (id, tag.as_str().to_owned())),
                    });
                } else {
                    // Usual after the lookup timed out; otherwise a confused peer.
                    reign_tls::debug_limited!(from = %self.peer, request, "LOOKUP_REPLY for no pending lookup; ignored");
                }
            }
            Frame::NameAdd {
                name,
                mailbox,
                tag,
                registered_at: _,
            } => {
                let key = match self.names.get_key_value(name.as_str()) {
                    Some((k, _)) => k.clone(),
                    None => {
                        self.room(false)?;
                        Arc::from(name.as_str())
                    }
                };
                self.names.insert(key.clone(), mailbox);
                self.out.push_back(Output::NameAdd {
                    name: key,
                    mailbox,
                    tag,
                });
            }
            Frame::NameRemove { name, mailbox } => {
                if self
                    .names
                    .get(name.as_str())
                    .is_some_and(|m| mailbox == 0 || *m == mailbox)
                {
                    self.names.remove(name.as_str());
                }
                self.out.push_back(Output::NameRemove { name, mailbox });
            }
            Frame::GroupJoin {
                group,
                mailbox,
                tag,
            } => {
                let (key, repeat) = match self.members.get_key_value(group.as_str()) {
                    Some((k, m)) => (k.clone(), m.contains(&mailbox)),
                    None => (Arc::from(group.as_str()), false),
                };
                self.room(repeat)?;
                if !repeat {
                    self.members.entry(key.clone()).or_default().insert(mailbox);
                    self.memberships += 1;
                }
                self.out.push_back(Output::GroupJoin {
                    group: key,
                    mailbox,
                    tag,
                });
            }
            Frame::GroupLeave { group, mailbox } => {
                if let Some(m) = self.members.get_mut(group.as_str())
                    && m.remove(&mailbox)
                {
                    self.memberships -= 1;
                    if m.is_empty() {
                        self.members.remove(group.as_str());
                    }
                }
                self.out.push_back(Output::GroupLeave { group, mailbox });
            }
        }
        Ok(())
    }

    /// Refuses one more name or membership from a peer already holding its cap of them. A
    /// `repeat` of one it holds over this link is not one more.
    fn room(&self, repeat: bool) -> Result<(), LinkDownReason> {
        let max = self.limits.max_announced;
        if repeat || self.announced() < max {
            return Ok(());
        }
        Err(self.over_cap(ProtocolViolation::TooManyAnnounced { max }))
    }

    fn over_cap(&self, violation: ProtocolViolation) -> LinkDownReason {
        reign_tls::warn_limited!(peer = %self.peer, %violation, "closing link: the peer went past a per-link cap");
        LinkDownReason::ProtocolError(violation)
    }

    /// The peer's EXIT: an exit signal from its server `from`, acted on only through a link
    /// that server made with `target` (the link ends with it). Any other is ignored: a peer
    /// can end only the servers linked with its own.
    fn peer_exit(&mut self, from: u64, target: u64, target_incarnation: u64, reason: DownReason) {
        let key = (from, MailboxId(target));
        let found = match self.links_in.get(&key) {
            Some(&m) if target_incarnation == self.own_incarnation => m,
            _ => {
                reign_tls::debug_limited!(from = %self.peer, mailbox = from, target, "EXIT for no link; ignored");
                return;
            }
        };
        if let Some(rec) = self.take_incoming(found) {
            self.unwatch(rec);
        }
        self.out.push_back(Output::Exit {
            target: MailboxId(target),
            from,
            reason,
        });
    }

    /// Removes the peer's monitor `monitor`, and its link's index entry.
    fn take_incoming(&mut self, monitor: u64) -> Option<Incoming<H>> {
        let rec = self.incoming.remove(&monitor)?;
        if rec.link {
            let key = (rec.watcher, rec.target);
            if self.links_in.get(&key) == Some(&monitor) {
                self.links_in.remove(&key);
            }
        }
        Some(rec)
    }

    /// A MONITOR or LINK: records the peer's monitor and asks for its hook. True if it is
    /// held; false if it was answered at once (DOWN "no such mailbox").
    fn peer_watch(
        &mut self,
        monitor: u64,
        watcher: u64,
        target: u64,
        target_incarnation: u64,
        live: &dyn Fn(MailboxId) -> bool,
        link: bool,
    ) -> Result<bool, LinkDownReason> {
        if target_incarnation != self.own_incarnation
            || self.at_monitor_cap(monitor) && !live(MailboxId(target))
        {
            // A mailbox of another life of this node, or (at the cap, where it is asked) one
            // that has ended: gone, and nothing is held for it.
            self.out.push_back(Output::Send(down_frame(
                monitor,
                watcher,
                target,
                target_incarnation,
                &DownReason::NoSuchMailbox,
            )));
            return Ok(false);
        }
        if self.at_monitor_cap(monitor) {
            let max = self.limits.max_monitors;
            return Err(self.over_cap(ProtocolViolation::TooManyMonitors { max }));
        }
        self.next_token += 1;
        let token = self.next_token;
        // A repeated ID replaces the earlier monitor (or link).
        if let Some(old) = self.take_incoming(monitor) {
            self.unwatch(old);
        }
        let rec = Incoming {
            watcher,
            target: MailboxId(target),
            token,
            hook: None,
            link,
        };
        self.incoming.insert(monitor, rec);
        if link {
            self.links_in.insert((watcher, MailboxId(target)), monitor);
        }
        self.out.push_back(Output::Watch {
            peer_monitor: monitor,
            token,
            target: MailboxId(target),
        });
        Ok(true)
    }

    /// Whether one more monitor with this ID would go past the cap (a repeated ID replaces
    /// its monitor and is not one more).
    fn at_monitor_cap(&self, monitor: u64) -> bool {
        !self.incoming.contains_key(&monitor) && self.incoming.len() >= self.limits.max_monitors
    }

    fn unwatch(&mut self, rec: Incoming<H>) {
        if let Some(h) = rec.hook {
            self.out.push_back(Output::Unwatch(h));
        }
    }

    /// The driver attached the hook for the peer's monitor `peer_monitor` (watch `token`), or
    /// found its target ended (`hook` `None`: the peer is told "no such mailbox").
    pub(crate) fn watched(&mut self, peer_monitor: u64, token: u64, hook: Option<H>) {
        match self.incoming.get_mut(&peer_monitor) {
            Some(rec) if rec.token == token => match hook {
                Some(h) => rec.hook = Some(h),
                None => {
                    let (watcher, target) = (rec.watcher, rec.target.get());
                    self.take_incoming(peer_monitor);
                    self.out.push_back(Output::Send(down_frame(
                        peer_monitor,
                        watcher,
                        target,
                        self.own_incarnation,
                        &DownReason::NoSuchMailbox,
                    )));
                }
            },
            // Cancelled, replaced, fired or the link ended meanwhile: the hook has no record.
            _ => {
                if let Some(h) = hook {
                    self.out.push_back(Output::Unwatch(h));
                }
            }
        }
    }

    /// The local mailbox watched by the peer's monitor `peer_monitor` (watch `token`) ended:
    /// tell the peer, once.
    pub(crate) fn local_down(&mut self, peer_monitor: u64, token: u64, reason: &DownReason) {
        if self
            .incoming
            .get(&peer_monitor)
            .is_some_and(|r| r.token == token)
            && let Some(rec) = self.take_incoming(peer_monitor)
        {
            self.out.push_back(Output::Send(down_frame(
                peer_monitor,
                rec.watcher,
                rec.target.get(),
                self.own_incarnation,
                reason,
            )));
        }
    }

    /// The peer's DOWN: delivered only for a monitor this node asked this peer for, with the
    /// watcher and target it was asked for. A peer cannot make up `Down`s for other mailboxes
    /// or other nodes.
    fn peer_down(
        &mut self,
        monitor: MonitorId,
        watcher: u64,
        target: u64,
        target_incarnation: u64,
        reason: DownReason,
    ) {
        match self.outgoing.get(&monitor) {
            Some((w, t))
                if w.get() == watcher
                    && t.id().get() == target
                    && t.incarnation().get() == target_incarnation =>
            {
                if let Some((watcher, target)) = self.outgoing.remove(&monitor) {
                    self.forget_link_out(watcher, &target, monitor);
                    self.out.push_back(Output::Down {
                        watcher,
                        monitor,
                        target,
                        reason,
                        link: None,
                    });
                }
            }
            Some(_) => {
                reign_tls::warn_limited!(from = %self.peer, %monitor, "DOWN does not match its monitor; ignored");
            }
            None => {
                // Usual after a demonitor crossed the DOWN; otherwise a confused peer.
                reign_tls::debug_limited!(from = %self.peer, %monitor, "DOWN for no active monitor; ignored");
            }
        }
    }

    /// Local mailbox `watcher` monitors the peer's mailbox `target` (mailbox 0: the whole
    /// node). `Err` when it cannot: the link has ended, or `target` is of another life of
    /// the peer.
    pub(crate) fn monitor(
        &mut self,
        monitor: MonitorId,
        watcher: MailboxId,
        target: MailboxRef,
    ) -> Result<(), DownReason> {
        if self.is_dead() {
            return Err(DownReason::NoConnection);
        }
        if target.incarnation().get() != self.peer_incarnation {
            return Err(DownReason::NoSuchMailbox);
        }
        let whole_node = target.id().get() == 0;
        if !whole_node {
            self.out.push_back(Output::Send(Frame::Monitor {
                monitor: monitor.0,
                watcher: watcher.get(),
                target: target.id().get(),
                target_incarnation: target.incarnation().get(),
            }));
        }
        self.outgoing.insert(monitor, (watcher, target));
        Ok(())
    }

    /// Local server `watcher` links with the peer's server `target`: a monitor (as
    /// [`LinkState::monitor`]) that the peer also records as a link (LINK).
    pub(crate) fn link(
        &mut self,
        monitor: MonitorId,
        watcher: MailboxId,
        target: MailboxRef,
    ) -> Result<(), DownReason> {
        if self.is_dead() {
            return Err(DownReason::NoConnection);
        }
        if target.incarnation().get() != self.peer_incarnation || target.id().get() == 0 {
            return Err(DownReason::NoSuchMailbox);
        }
        self.out.push_back(Output::Send(Frame::Link {
            monitor: monitor.0,
            watcher: watcher.get(),
            target: target.id().get(),
            target_incarnation: target.incarnation().get(),
        }));
        self.links_out.insert((watcher, target.id().get()), monitor);
        self.outgoing.insert(monitor, (watcher, target));
        Ok(())
    }

    /// Local server `from`, linked with the peer's server `target` by its own LINK, ended
    /// with `reason`: the exit signal (EXIT), in order before the DEMONITOR that follows.
    pub(crate) fn exit(&mut self, from: MailboxId, target: &MailboxRef, reason: &DownReason) {
        if self.is_dead() || target.incarnation().get() != self.peer_incarnation {
            return;
        }
        let Frame::Down {
            reason: code, text, ..
        } = down_frame(0, 0, 0, 0, reason)
        else {
            return;
        };
        self.out.push_back(Output::Send(Frame::Exit {
            from: from.get(),
            target: target.id().get(),
            target_incarnation: target.incarnation().get(),
            reason: code,
            text,
        }));
    }

    /// Local server `from` removes the link the peer's server `target` made with it (UNLINK).
    pub(crate) fn unlink(&mut self, from: MailboxId, target: &MailboxRef) {
        if self.is_dead() || target.incarnation().get() != self.peer_incarnation {
            return;
        }
        self.out.push_back(Output::Send(Frame::Unlink {
            from: from.get(),
            target: target.id().get(),
            target_incarnation: target.incarnation().get(),
        }));
    }

    /// The link index entry of this node's monitor `monitor`, if it was a LINK's.
    fn forget_link_out(&mut self, watcher: MailboxId, target: &MailboxRef, monitor: MonitorId) {
        let key = (watcher, target.id().get());
        if self.links_out.get(&key) == Some(&monitor) {
            self.links_out.remove(&key);
        }
    }

    /// Cancels this node's monitor `monitor` (no `Down` follows it).
    pub(crate) fn demonitor(&mut self, monitor: MonitorId) {
        if let Some((watcher, target)) = self.outgoing.remove(&monitor)
            && target.id().get() != 0
        {
            self.forget_link_out(watcher, &target, monitor);
            self.out
                .push_back(Output::Send(Frame::Demonitor { monitor: monitor.0 }));
        }
    }

    /// Asks the peer where `name` is registered, as `request`. False if the link has ended.
    pub(crate) fn lookup(&mut self, request: u64, name: &str) -> bool {
        if self.is_dead() {
            return false;
        }
        self.lookups.insert(request);
        self.out.push_back(Output::Send(Frame::Lookup {
            request,
            name: Text::new(name),
        }));
        true
    }

    /// This node gave up waiting for `request`; a late answer is ignored.
    pub(crate) fn forget_lookup(&mut self, request: u64) {
        self.lookups.remove(&request);
    }

    /// The link lost its place as the peer's link (a newer connection replaced it) before
    /// its `Up` was reported: it is on its way out, and its end is not reported either.
    pub(crate) fn lost_slot(&mut self) {
        if self.phase == Phase::InService {
            self.phase = Phase::Closing { was_up: false };
        }
    }

    /// This node begins closing the link gracefully.
    pub(crate) fn close_gracefully(&mut self) {
        let was_up = match self.phase {
            Phase::Syncing => false,
            Phase::InService => true,
            Phase::Closing { .. } | Phase::Dead(_) => return,
        };
        self.phase = Phase::Closing { was_up };
    }

    /// The link has ended with `reason`: every monitor of the peer's mailboxes fires
    /// `NoConnection`, every hook of the peer's monitors is detached, pending lookups are
    /// abandoned, and the peer's names and memberships are forgotten. Returns whether the link
    /// had been reported up (so whether its end is reported). Idempotent.
    pub(crate) fn close(&mut self, reason: LinkDownReason) -> bool {
        let was_up = match self.phase {
            Phase::Syncing => false,
            Phase::InService => true,
            Phase::Closing { was_up } => was_up,
            Phase::Dead(_) => return false,
        };
        self.phase = Phase::Dead(reason.clone());
        let names: Vec<Arc<str>> = self.names.drain().map(|(n, _)| n).collect();
        let memberships: Vec<(Arc<str>, u64)> = self
            .members
            .drain()
            .flat_map(|(g, m)| m.into_iter().map(move |id| (g.clone(), id)))
            .collect();
        self.memberships = 0;
        if !names.is_empty() || !memberships.is_empty() {
            self.out.push_back(Output::Forget { names, memberships });
        }
        self.links_out.clear();
        for (monitor, (watcher, target)) in self.outgoing.drain() {
            self.out.push_back(Output::Down {
                watcher,
                monitor,
                target,
                reason: DownReason::NoConnection,
                link: Some(reason.clone()),
            });
        }
        self.links_in.clear();
        for (_, rec) in self.incoming.drain() {
            if rec.link {
                self.out.push_back(Output::Exit {
                    target: rec.target,
                    from: rec.watcher,
                    reason: DownReason::NoConnection,
                });
            }
            if let Some(h) = rec.hook {
                self.out.push_back(Output::Unwatch(h));
            }
        }
        for request in self.lookups.drain() {
            self.out.push_back(Output::LookupAbandoned { request });
        }
        was_up
    }
}

/// The DOWN frame for the peer's monitor `monitor` (of its mailbox `watcher`) of mailbox
/// `target` in life `target_incarnation`.
pub(crate) fn down_frame(
    monitor: u64,
    watcher: u64,
    target: u64,
    target_incarnation: u64,
    reason: &DownReason,
) -> Frame {
    let (code, text) = match reason {
        DownReason::Normal => (wire::DOWN_NORMAL, ""),
        DownReason::User(t) => (wire::DOWN_USER, t.as_str()),
        DownReason::NoSuchMailbox => (wire::DOWN_NO_SUCH_MAILBOX, ""),
        DownReason::Shutdown => (wire::DOWN_SHUTDOWN, ""),
        DownReason::Killed => (wire::DOWN_KILLED, ""),
        DownReason::Panic(t) => (wire::DOWN_PANIC, t.as_str()),
        _ => (wire::DOWN_NO_CONNECTION, ""),
    };
    Frame::Down {
        monitor,
        watcher,
        target,
        target_incarnation,
        reason: code,
        text: Text::new(text),
    }
}

/// The reason a DOWN frame carries.
pub(crate) fn down_reason(code: u8, text: &str) -> DownReason {
    match code {
        wire::DOWN_NORMAL => DownReason::Normal,
        wire::DOWN_USER => DownReason::User(text.to_owned()),
        wire::DOWN_NO_SUCH_MAILBOX => DownReason::NoSuchMailbox,
        wire::DOWN_SHUTDOWN => DownReason::Shutdown,
        wire::DOWN_KILLED => DownReason::Killed,
        wire::DOWN_PANIC => DownReason::Panic(text.to_owned()),
        _ => DownReason::NoConnection,
    }
}
