//! Supervision: a job queue across processes that survives a killed worker process and a
//! killed coordinator.
//!
//! Run it with `cargo run --example supervision`; it needs no setup and ends on its own. It
//!
//! 1. makes a cluster CA and certificates for nodes `o`, `a`, `b` and `c` in a temporary
//!    folder;
//! 2. starts node `o` in this process, with the **ledger** (the one place results are
//!    handed in, first hand-in wins), and nodes `a`, `b` and `c` as three child processes
//!    of this program, each joining through `o`;
//! 3. each child runs a supervisor with two **workers** and the manager of the
//!    **coordinator**, a singleton: one coordinator cluster-wide hands out jobs with `call`,
//!    monitors the worker it gave each to, and hands a job out again if its worker goes;
//! 4. kills (SIGKILL) the process of a worker node mid-run, then the process that holds the
//!    coordinator: another node starts the coordinator, which takes from the ledger what is
//!    done, and the workers left finish;
//! 5. checks that every job's result was handed in exactly once (a job done twice, by a
//!    worker cut off mid-job and by another, is refused the second time) and exits.
//!
//! Every wait is bounded; on any failure it says why and exits non-zero.

// A demo talks to the person running it.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use reign::{
    ChildSpec, Ctx, Exit, Info, MailboxRef, Node, NodeConfig, ReplyTo, Server, ServerRef,
    Singleton, SingletonSpec, Strategy, Supervisor, SupervisorSpec, TlsFiles,
};
use serde::{Deserialize, Serialize};

const JOBS: u32 = 40;
const WORK: Duration = Duration::from_millis(150);
const WAIT: Duration = Duration::from_secs(20);

// ---- The job queue: coordinator and workers (the part to compare with gen_server). ----

/// The coordinator: jobs not handed out yet, and the job each worker holds.
struct Coordinator {
    pending: VecDeque<u32>,
    out: HashMap<MailboxRef, u32>,
}

#[derive(Serialize, Deserialize)]
enum CoordMsg {
    Next(ReplyTo<Option<u32>>),
    Done(u32),
}
reign::message!(CoordMsg = "supervision.Coord");

impl Server for Coordinator {
    type Msg = CoordMsg;
    type Args = ();

    async fn init(_: (), ctx: &mut Ctx<Self>) -> Result<Self, Exit> {
        let ledger = ctx.node().global().whereis_server::<Ledger>("ledger")?;
        let done = ctx.call(&ledger, LedgerMsg::Done, WAIT).await?;
        let pending = (1..=JOBS).filter(|j| !done.contains(j)).collect();
        Ok(Coordinator {
            pending,
            out: HashMap::new(),
        })
    }

    async fn handle(&mut self, msg: CoordMsg, ctx: &mut Ctx<Self>) -> Result<(), Exit> {
        match msg {
            CoordMsg::Next(reply) => {
                let job = self.pending.pop_front();
                if let (Some(job), Some(worker)) = (job, reply.caller()) {
                    ctx.monitor_ref(worker);
                    self.out.insert(worker.clone(), job);
                }
                reply.send(job);
            }
            CoordMsg::Done(job) => self.out.retain(|_, j| *j != job),
        }
        Ok(())
    }

    async fn handle_info(&mut self, info: Info, _: &mut Ctx<Self>) -> Result<(), Exit> {
        if let Info::Down(down) = info
            && let Some(job) = self.out.remove(&down.target)
        {
            self.pending.push_front(job); // its worker went: someone else does it
        }
        Ok(())
    }
}

/// A worker: asks the coordinator for a job, does it, hands the result in, asks again.
struct Worker;

#[derive(Serialize, Deserialize)]
struct Ask;
reign::message!(Ask = "supervision.Ask");

impl Server for Worker {
    type Msg = Ask;
    type Args = ();

    async fn init(_: (), ctx: &mut Ctx<Self>) -> Result<Self, Exit> {
        ctx.myself().cast(Ask)?;
        Ok(Worker)
    }

    async fn handle(&mut self, _: Ask, ctx: &mut Ctx<Self>) -> Result<(), Exit> {
        let node = ctx.node();
        // No coordinator for a moment (it is failing over), or no job: ask again soon.
        let coord = node.global().whereis_server::<Coordinator>("coordinator");
        let next = match &coord {
            Ok(coord) => ctx.call(coord, CoordMsg::Next, WAIT).await.ok().flatten(),
            Err(_) => None,
        };
        let (Ok(coord), Some(job)) = (coord, next) else {
            ctx.send_after(Ask, Duration::from_millis(100));
            return Ok(());
        };
        tokio::time::sleep(WORK).await;
        let ledger = node.global().whereis_server::<Ledger>("ledger")?;
        let hand_in = |r| LedgerMsg::HandIn(job, u64::from(job).pow(2), node.id().to_string(), r);
        ctx.call(&ledger, hand_in, WAIT).await?;
        coord.cast(CoordMsg::Done(job))?;
        Ok(ctx.myself().cast(Ask)?)
    }
}

/// A node's tree: the coordinator's manager and two workers, under one supervisor.
fn tree() -> SupervisorSpec {
    let coord = || SingletonSpec::new("coordinator", || ());
    SupervisorSpec::new(Strategy::OneForOne)
        .intensity(10, Duration::from_secs(10))
        .child(ChildSpec::local::<Singleton<Coordinator>>("coord", coord))
        .child(ChildSpec::new::<Worker>("worker-1", || ()))
        .child(ChildSpec::new::<Worker>("worker-2", || ()))
}

// ---- The ledger: exactly-once results on at-most-once delivery. ----

/// The ledger: each job's result, from the first hand-in (later ones are duplicates).
struct Ledger {
    results: BTreeMap<u32, (u64, String)>,
    duplicates: u32,
    progress: tokio::sync::watch::Sender<usize>,
}

#[derive(Serialize, Deserialize)]
enum LedgerMsg {
    HandIn(u32, u64, String, ReplyTo<bool>),
    Done(ReplyTo<Vec<u32>>),
}
reign::message!(LedgerMsg = "supervision.Ledger");

impl Server for Ledger {
    type Msg = LedgerMsg;
    type Args = tokio::sync::watch::Sender<usize>;

    async fn init(progress: Self::Args, _: &mut Ctx<Self>) -> Result<Self, Exit> {
        Ok(Ledger {
            results: BTreeMap::new(),
            duplicates: 0,
            progress,
        })
    }

    async fn handle(&mut self, msg: LedgerMsg, _: &mut Ctx<Self>) -> Result<(), Exit> {
        match msg {
            LedgerMsg::HandIn(job, result, by, reply) => {
                let first = !self.results.contains_key(&job);
                if first {
                    self.results.insert(job, (result, by));
                    let _ = self.progress.send(self.results.len());
                } else {
                    self.duplicates += 1;
                    println!(
                        "   job {job} handed in again by {by}: refused (done by {})",
                        self.results[&job].1
                    );
                }
                reply.send(first);
            }
            LedgerMsg::Done(reply) => reply.send(self.results.keys().copied().collect()),
        }
        Ok(())
    }
}

// ---- Running it: the certificates, the processes, the kills. ----

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("supervision: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = if args.get(1).map(String::as_str) == Some("--node") {
        runtime.block_on(child(&args[2..]))
    } else {
        runtime.block_on(demo())
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("supervision: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn config(id: &str, dir: &Path) -> Result<NodeConfig> {
    let tls = TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join(format!("{id}.pem")),
        key: dir.join(format!("{id}.key")),
        crl: None,
        pinned: Vec::new(),
        watch: false,
    };
    let mut c = NodeConfig::new(id.parse()?, "supervision", "127.0.0.1:0".parse()?, tls);
    c.tunables.heartbeat_interval = Duration::from_millis(200);
    c.tunables.peer_silence_limit = Duration::from_secs(2);
    Ok(c)
}

/// A node process: `--node <id> <dir> <seed>`. Runs its tree until its stdin closes.
async fn child(args: &[String]) -> Result<()> {
    let [id, dir, seed] = args else {
        bail!("usage: --node <id> <dir> <seed>")
    };
    let node = Node::start(config(id, Path::new(dir))?.with_seed(seed.clone())).await?;
    node.global()
        .wait_for_server::<Ledger>("ledger", WAIT)
        .await?;
    node.spawn::<Supervisor>(tree()).await?;
    println!("ready");
    // Ends with its parent: stdin closes then.
    tokio::task::spawn_blocking(|| std::io::stdin().lines().count()).await?;
    node.shutdown().await;
    Ok(())
}

struct Proc {
    id: String,
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn demo() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let ids = ["o", "a", "b", "c"];
    make_pki(dir, &ids)?;
    println!(
        "1. Made a cluster CA and certificates for {ids:?} in {}.",
        dir.display()
    );

    let o = Node::start(config("o", dir)?).await?;
    let (progress_tx, mut progress) = tokio::sync::watch::channel(0usize);
    let ledger = o.spawn::<Ledger>(progress_tx).await?;
    o.global().register_server("ledger", &ledger)?;
    let seed = o.cluster().advertised_addr().context("o's address")?;
    let mut procs = Vec::new();
    for id in &ids[1..] {
        procs.push(spawn(id, dir, &seed)?);
    }
    println!(
        "2. Node o runs the ledger; a, b and c run as processes {:?}.",
        procs.iter().map(|p| p.child.id()).collect::<Vec<_>>()
    );
    println!(
        "3. Each runs a supervisor with two workers and the coordinator's manager; {JOBS} jobs to do."
    );

    let until = |n: usize| {
        let mut p = progress.clone();
        async move {
            tokio::time::timeout(WAIT, p.wait_for(|d| *d >= n))
                .await
                .map(drop)
        }
    };
    until(6).await.context("the first results")?;
    let holder = coordinator_node(&o)?;
    let victim = procs
        .iter()
        .position(|p| p.id != holder)
        .context("a worker node")?;
    let killed = procs.remove(victim);
    println!(
        "4. After {} results, killing worker node {} (process {}) mid-run.",
        *progress.borrow(),
        killed.id,
        killed.child.id()
    );
    drop(killed);

    until(18).await.context("results after the first kill")?;
    let holder = coordinator_node(&o)?;
    let victim = procs
        .iter()
        .position(|p| p.id == holder)
        .context("the coordinator's process")?;
    let killed = procs.remove(victim);
    println!(
        "   After {} results, killing node {} (process {}), which holds the coordinator.",
        *progress.borrow(),
        killed.id,
        killed.child.id()
    );
    drop(killed);

    tokio::time::timeout(WAIT, progress.wait_for(|d| *d >= JOBS as usize))
        .await
        .context("all jobs done")??;
    let new_holder = coordinator_node(&o)?;
    let done = ledger.call(LedgerMsg::Done, WAIT).await?;
    if done != (1..=JOBS).collect::<Vec<_>>() {
        bail!("the ledger holds {done:?}");
    }
    println!(
        "5. All {JOBS} jobs handed in exactly once; the coordinator now runs on {new_holder}."
    );
    o.shutdown().await;
    Ok(())
}

/// Where the coordinator runs, as `o` sees it.
fn coordinator_node(o: &Node) -> Result<String> {
    let c: ServerRef<Coordinator> = o.global().whereis_server("coordinator")?;
    Ok(c.node_id().to_string())
}

fn spawn(id: &str, dir: &Path, seed: &str) -> Result<Proc> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(["--node", id, &dir.display().to_string(), seed])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting node {id}"))?;
    let out = child.stdout.take().context("stdout")?;
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line)?;
    if line.trim() != "ready" {
        bail!("node {id} did not start: {line:?}");
    }
    Ok(Proc {
        id: id.to_owned(),
        child,
    })
}

fn make_pki(dir: &Path, ids: &[&str]) -> Result<()> {
    // Files `ca.pem`, `<id>.pem` and `<id>.key` in `dir`, as `config` reads them.
    let options = reign_certgen::InitOptions {
        cluster_name: "supervision".into(),
        ..Default::default()
    };
    reign_certgen::init(dir, &options)?;
    reign_certgen::issue(dir, ids, &reign_certgen::IssueOptions::default())?;
    Ok(())
}
