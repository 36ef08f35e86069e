//! The group and its builders: what a caller configures before `run`.

use crate::actor::{ActorId, BoxError, Execute, Force, Interrupt, Policy};
use std::fmt;
use std::future::Future;
use std::time::Duration;

#[cfg(feature = "test-util")]
use crate::clock::ManualClock;
use crate::clock::{Clock, Timer};
use crate::observe::{Event, Observer};
use crate::ready::{self, Readiness, ReadyHandle};
use crate::spawn::Executor;
use crate::state::Control;
use crate::stop::StopHandle;
use crate::supervise::{Restart, Supervisor};
use crate::sync::{Arc, Frozen};
use crate::token::StopToken;
use crate::why::Cause;

/// What an actor's thread runs: one execute, or a supervisor's incarnations (issue 13).
pub(crate) enum Body<E> {
    Once(Execute<E>),
    Supervised(Supervisor<E>),
    /// A future actor (issue 12), polled by the group's driver. `cancel`: dropped at its
    /// interrupt (its interrupt in the spec is then a placeholder the runner replaces).
    Future {
        future: crate::actor::BoxFuture<E>,
        cancel: bool,
    },
}

/// A shutdown stage of a group, made by [`Group::stage`] (rule S01).
///
/// Teardown interrupts the stages in the order they were created, [`Stage::DEFAULT`] first, and
/// does not interrupt a stage until every actor of the stages before it has exited (or their
/// deadline expired).
///
/// A stage belongs to the group that made it: using it with another group panics (F05), even
/// when that group happens to have a stage at the same position.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Stage {
    /// Its position in teardown order (compared first, so stages order by teardown).
    pub(crate) index: usize,
    /// The group that made it: the address of that group's control block, which no other live
    /// group shares; 0 for [`Stage::DEFAULT`], which every group has.
    group: usize,
}

impl Stage {
    /// The stage every actor is in unless told otherwise; torn down first.
    pub const DEFAULT: Stage = Stage { index: 0, group: 0 };
}

impl fmt::Debug for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Stage").field(&self.index).finish()
    }
}

/// A stage being made by [`Group::stage`]: configure it here; [`id`](StageBuilder::id) is its
/// handle, for [`ActorBuilder::stage`].
///
/// # Examples
///
/// ```
/// # if rungroup::doctest_skip() { return; }
/// use rungroup::Group;
/// use std::time::Duration;
///
/// let mut group = Group::new();
/// let flush = group.stage("flush").grace(Duration::from_secs(5)).id();
/// group.actor("flusher").stage(flush).add(|| Ok(()), |_| {});
/// # assert!(group.run().is_ok());
/// ```
#[must_use = "the stage is made; take its handle with `.id()` to place actors in it"]
pub struct StageBuilder<'g, E> {
    group: &'g mut Group<E>,
    index: usize,
}

impl<E: Send + Sync + 'static> StageBuilder<'_, E> {
    /// Sets how long the stage may take to drain once its interrupts have been called (rule
    /// S04); see [`Group::grace`], which sets it for a stage made earlier ([`Stage::DEFAULT`]).
    pub fn grace(self, grace: Duration) -> Self {
        self.group.stages[self.index].grace = Some(grace);
        self
    }

    /// The stage's handle.
    pub fn id(self) -> Stage {
        Stage {
            index: self.index,
            group: self.group.identity(),
        }
    }
}

impl<E> fmt::Debug for StageBuilder<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let spec = &self.group.stages[self.index];
        f.debug_struct("StageBuilder")
            .field("index", &self.index)
            .field("name", &spec.name)
            .field("grace", &spec.grace)
            .finish()
    }
}

pub(crate) struct StageSpec {
    pub(crate) name: String,
    pub(crate) grace: Option<Duration>,
}

pub(crate) struct ActorSpec<E> {
    pub(crate) name: String,
    pub(crate) stage: usize,
    pub(crate) policy: Policy,
    pub(crate) stack_size: Option<usize>,
    pub(crate) execute: Body<E>,
    pub(crate) interrupt: Interrupt<E>,
    pub(crate) force: Option<Force>,
    /// The interrupt is the group's own and cannot block (a future actor's token or cancel): the
    /// runner may call it itself, with no hook lane.
    pub(crate) inline: bool,
    /// Run on the group's executor ([`ActorBuilder::spawned`]).
    pub(crate) spawned: bool,
}

/// Runs a set of actors as one unit and tears them down deterministically.
///
/// An actor is a pair: an *execute* that runs on its own thread until it is done, and an
/// *interrupt* that asks that execute to return. [`run`](Group::run) starts every execute; the
/// first one to return (or panic) triggers teardown, which calls every interrupt, in registration
/// order, stage by stage, and waits for every execute. `run` then returns the first exit's result.
///
/// `run` takes `self`, so a group cannot be run twice or changed while it runs:
///
/// ```compile_fail
/// let mut group = rungroup::Group::new();
/// group.add(|| Ok(()), |_| {});
/// let _ = group.run();
/// group.add(|| Ok(()), |_| {}); // error: `group` was moved by `run`
/// ```
///
/// ```compile_fail
/// let group = rungroup::Group::new();
/// let _ = group.run();
/// let _ = group.run(); // error: use of moved value
/// ```
///
/// # Examples
///
/// ```
/// # if rungroup::doctest_skip() { return; }
/// use rungroup::Group;
/// use std::sync::mpsc;
///
/// let mut group = Group::new();
/// let (tx, rx) = mpsc::channel::<()>();
/// // A worker that runs until interrupted.
/// group.add(move || { let _ = rx.recv(); Ok(()) }, move |_| drop(tx));
/// // A job that finishes, and so ends the group.
/// group.add(|| Err("job failed".into()), |_| {});
/// assert_eq!(group.run().unwrap_err().to_string(), "job failed");
/// ```
pub struct Group<E = BoxError> {
    pub(crate) actors: Vec<ActorSpec<E>>,
    pub(crate) stages: Vec<StageSpec>,
    pub(crate) budget: Option<Duration>,
    /// `None`: [`DEFAULT_KILL_GRACE`] if any grace or budget is set, else no kill grace at all.
    pub(crate) kill_grace: Option<Duration>,
    pub(crate) clock: Clock,
    pub(crate) observer: Option<Observer>,
    pub(crate) control: Arc<Control>,
    pub(crate) stack_size: Option<usize>,
    pub(crate) readiness: Frozen<ready::Shared>,
    pub(crate) lame_duck: Option<Duration>,
    /// Where [`ActorBuilder::spawned`] actors run.
    pub(crate) executor: Option<std::sync::Arc<dyn Executor>>,
    /// Where nested groups (T05) leave their reports, by the index of their actor.
    pub(crate) nested: Vec<(usize, crate::report::NestedSlot<E>)>,
    #[cfg(all(unix, feature = "systemd"))]
    pub(crate) systemd: bool,
}

/// The default time an escalated actor gets to return after its force hook before it is
/// abandoned (rule S06), when the group has a grace or a budget. See [`Group::kill_grace`].
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(1);

impl Group<BoxError> {
    /// An empty group whose actors return `Result<(), Box<dyn Error + Send + Sync>>`.
    ///
    /// For another error type, use `Group::<E>::default()`.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// let group = rungroup::Group::new();
    /// assert!(group.run().is_ok()); // R01: no actors, nothing to do
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

impl<E> Default for Group<E> {
    fn default() -> Self {
        Self {
            actors: Vec::new(),
            stages: vec![StageSpec {
                name: "default".to_owned(),
                grace: None,
            }],
            budget: None,
            kill_grace: None,
            clock: Clock::Real,
            observer: None,
            control: Arc::new(Control::new()),
            stack_size: None,
            readiness: ready::Shared::new(),
            lame_duck: None,
            executor: None,
            nested: Vec::new(),
            #[cfg(all(unix, feature = "systemd"))]
            systemd: false,
        }
    }
}

impl<E: Send + Sync + 'static> Group<E> {
    /// Adds an actor: `execute` runs on its own thread; `interrupt` is called once, during
    /// teardown, with the cause, and must make `execute` return. The actor is named
    /// `actor-<index>`, is in [`Stage::DEFAULT`] and has [`Policy::Critical`]: exactly Go's
    /// `run.Group.Add`.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// let mut group = rungroup::Group::new();
    /// group.add(|| Ok(()), |_| {});
    /// assert_eq!(group.len(), 1);
    /// ```
    pub fn add<X, I>(&mut self, execute: X, interrupt: I) -> ActorId
    where
        X: FnOnce() -> Result<(), E> + Send + 'static,
        I: FnOnce(&Cause<E>) + Send + 'static,
    {
        self.builder(None).add(execute, interrupt)
    }

    /// Adds a token actor (rule T03): the group supplies the interrupt, and `execute` receives a
    /// [`StopToken`] it can poll or wait on. Sticky: a token stopped before `execute` starts is
    /// already stopped when it does.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// let mut group = rungroup::Group::new();
    /// group.add_token(|token| { token.wait(); Ok(()) });
    /// group.add(|| Ok(()), |_| {});
    /// assert!(group.run().is_ok());
    /// ```
    pub fn add_token<X>(&mut self, execute: X) -> ActorId
    where
        X: FnOnce(StopToken) -> Result<(), E> + Send + 'static,
    {
        self.builder(None).add_token(execute)
    }

    /// Adds a future actor (issue 12): `execute` is polled by the group itself, on the thread that
    /// drives the run ([`run`](Group::run)'s caller, or the task polling
    /// [`run_async`](Group::run_async)); `interrupt` is called once, during teardown, as for a
    /// thread actor. Named `actor-<index>`, in [`Stage::DEFAULT`], [`Policy::Critical`].
    ///
    /// The same rules hold as for thread actors (first exit, interrupts in order, stages,
    /// graces, budget, panics caught by name), with two differences:
    ///
    /// - escalation *drops* a future actor still running (outcome
    ///   [`Outcome::Cancelled`](crate::Outcome::Cancelled)), so it is never abandoned;
    /// - `interrupt` is called on the group's thread, like the future's polls, unless a thread
    ///   actor's interrupt is still to run before it (then on that interrupt's lane, to keep the
    ///   order). Like a poll, it must not block: while it runs, no deadline is checked. A poll or
    ///   an interrupt that holds the thread is reported ([`Event::Stalled`](crate::Event::Stalled)).
    ///
    /// See `docs/async.md`.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// let mut group = rungroup::Group::new();
    /// let stop = rungroup::StopToken::new();
    /// let token = stop.clone();
    /// group.add_future(async move { token.stopped().await; Ok(()) }, move |_| stop.stop());
    /// group.add(|| Ok(()), |_| {});
    /// assert!(group.run().is_ok());
    /// ```
    pub fn add_future<F, I>(&mut self, execute: F, interrupt: I) -> ActorId
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        I: FnOnce(&Cause<E>) + Send + 'static,
    {
        self.builder(None).add_future(execute, interrupt)
    }

    /// Adds a future token actor: `execute` is called with the actor's [`StopToken`], which the
    /// group's interrupt stops, and the future it returns is polled by the group (see
    /// [`add_future`](Group::add_future)). Await [`StopToken::stopped`] to return when asked.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// let mut group = rungroup::Group::new();
    /// group.add_future_token(|token| async move {
    ///     token.stopped().await;
    ///     Ok(())
    /// });
    /// group.add(|| Ok(()), |_| {});
    /// assert!(group.run().is_ok());
    /// ```
    pub fn add_future_token<X, F>(&mut self, execute: X) -> ActorId
    where
        X: FnOnce(StopToken) -> F,
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        self.builder(None).add_future_token(execute)
    }

    /// Starts an actor with a name and options; finish it with one of its `add*` methods
    /// ([`ActorBuilder::add`], [`add_token`](ActorBuilder::add_token),
    /// [`add_future`](ActorBuilder::add_future), ...) or `supervise*`. Each returns the actor's
    /// [`ActorId`].
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// use rungroup::{Group, Policy};
    ///
    /// let mut group = Group::new();
    /// group.actor("migrations").policy(Policy::OnError).add(|| Ok(()), |_| {});
    /// group.actor("server").add(|| Err("port in use".into()), |_| {});
    /// let report = group.run_with_report();
    /// assert_eq!(report.first_exit().unwrap().name, "server");
    /// ```
    pub fn actor(&mut self, name: impl Into<String>) -> ActorBuilder<'_, E> {
        self.builder(Some(name.into()))
    }

    fn builder(&mut self, name: Option<String>) -> ActorBuilder<'_, E> {
        let index = self.actors.len();
        ActorBuilder {
            name: name.unwrap_or_else(|| default_name(index)),
            stage: Stage::DEFAULT,
            policy: Policy::Critical,
            stack_size: None,
            force: None,
            spawned: false,
            group: self,
        }
    }

    /// Makes a shutdown stage after the existing ones (rule S01), configured on the returned
    /// [`StageBuilder`] ([`grace`](StageBuilder::grace)); its handle is
    /// [`StageBuilder::id`]. Actors are placed in it with [`ActorBuilder::stage`].
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// use rungroup::{Group, Stage};
    /// use std::time::Duration;
    ///
    /// let mut group = Group::new();
    /// let drain = group.stage("drain").grace(Duration::from_secs(10)).id();
    /// group.actor("listener").add(|| Ok(()), |_| {}); // Stage::DEFAULT: stops first
    /// group.actor("worker").stage(drain).add(|| Ok(()), |_| {});
    /// assert!(drain > Stage::DEFAULT);
    /// # assert!(group.run().is_ok());
    /// ```
    pub fn stage(&mut self, name: impl Into<String>) -> StageBuilder<'_, E> {
        self.stages.push(StageSpec {
            name: name.into(),
            grace: None,
        });
        StageBuilder {
            index: self.stages.len() - 1,
            group: self,
        }
    }

    /// This group's identity for its stages (see [`Stage`]).
    fn identity(&self) -> usize {
        self.control.identity()
    }

    /// Whether `stage` is one of this group's.
    fn owns(&self, stage: Stage) -> bool {
        (stage.group == 0 || stage.group == self.identity()) && stage.index < self.stages.len()
    }

    /// Sets how long `stage` may take to drain once its interrupts have been called (rule S04).
    /// When it expires, the stage's remaining actors are escalated (their force hooks run), they
    /// get the [kill grace](Group::kill_grace), and teardown moves on. A zero grace escalates at
    /// once. Any `Duration` read from configuration is fine: deadlines saturate, so
    /// `Duration::MAX` means "never", as it does for [`budget`](Group::budget) and
    /// [`kill_grace`](Group::kill_grace).
    ///
    /// # Panics
    ///
    /// If `stage` was not made by this group's [`stage`](Group::stage) (F05). That is a
    /// programming error, not bad configuration: a [`Stage`] comes only from `stage`, never
    /// from a value a user could put in a file, so a panic that names it is the honest answer (as
    /// indexing a `Vec` out of bounds is), and an error return would only push an `unwrap` into
    /// every caller.
    pub fn grace(&mut self, stage: Stage, grace: Duration) -> &mut Self {
        assert!(
            self.owns(stage),
            "rungroup: grace for stage #{}, which another group made",
            stage.index
        );
        self.stages[stage.index].grace = Some(grace);
        self
    }

    /// Sets a budget for the whole teardown (rules S04, S08): measured from the trigger. Once it
    /// is spent, the stages not yet drained are escalated one after the other, in stage order,
    /// each given one kill grace, so `run` returns within the budget plus one kill grace per such
    /// stage plus a small constant, whatever the actors, hooks and observer do. A budget shorter
    /// than a stage's grace wins over it.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// use std::time::Duration;
    ///
    /// let mut group = rungroup::Group::new();
    /// group.budget(Duration::from_secs(30)).kill_grace(Duration::from_secs(2));
    /// # assert!(group.run().is_ok());
    /// ```
    pub fn budget(&mut self, budget: Duration) -> &mut Self {
        self.budget = Some(budget);
        self
    }

    /// Sets how long an escalated actor may take to return after its force hook was called before
    /// it is abandoned (rule S06).
    ///
    /// Default: [`DEFAULT_KILL_GRACE`] when a [grace](Group::grace) or [budget](Group::budget) is
    /// set. A group with no deadline at all has no kill grace unless one is set here: a second
    /// stop request (a second SIGTERM, or `stop()` called from an interrupt) still escalates at
    /// once, calling the force hooks, but then waits for the actors as long as they take, exactly
    /// as the group waited before (F04); nothing is abandoned on a deadline the user never set.
    pub fn kill_grace(&mut self, kill_grace: Duration) -> &mut Self {
        self.kill_grace = Some(kill_grace);
        self
    }

    /// Sets the stack size of every actor thread that does not set its own. Default: std's
    /// (2 MiB unless `RUST_MIN_STACK` says otherwise).
    ///
    /// The stack is virtual memory: a blocked actor keeps only the pages it touched resident
    /// (about 8 KiB for a small actor), whatever the size. A smaller size mostly saves address
    /// space and lets glibc cache more freed stacks for later spawns; see `docs/performance.md`.
    pub fn stack_size(&mut self, bytes: usize) -> &mut Self {
        self.stack_size = Some(bytes);
        self
    }

    /// The executor that [`spawned`](ActorBuilder::spawned) future actors run on:
    /// `TokioExecutor` with the `tokio` feature, or any [`Executor`].
    pub fn executor(&mut self, executor: impl Executor) -> &mut Self {
        self.executor = Some(std::sync::Arc::new(executor));
        self
    }

    /// Measures deadlines and timestamps with `timer`, and, in
    /// [`run_async`](Group::run_async), waits for deadlines with its sleeps instead of a timer
    /// thread: `TokioTimer` (feature `tokio`) puts the group on tokio's
    /// clock, paused test time included. For the test clock (feature `test-util`), use
    /// `Group::clock`.
    pub fn timer(&mut self, timer: impl Timer) -> &mut Self {
        self.clock = Clock::Timer(std::sync::Arc::new(timer));
        self
    }

    /// Measures deadlines and timestamps on `clock` instead of the system clock: deadline tests
    /// without sleeping. Feature `test-util`.
    #[cfg(feature = "test-util")]
    #[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
    pub fn clock(&mut self, clock: ManualClock) -> &mut Self {
        self.clock = Clock::Manual(clock);
        self
    }

    /// Calls `observer` on every lifecycle event (rule O02).
    ///
    /// With a [budget](Group::budget) it is called on a helper thread of its own, one event at a
    /// time, in the order the events happened, so that a slow or blocking observer can neither
    /// delay an actor nor break the budget (S08): `run` waits at most `max(kill grace, 1 s)` for
    /// it to catch up after teardown, then leaves it behind, and
    /// [`Report::observer_missed`](crate::Report::observer_missed) says how many events it missed.
    /// Without a budget it is called inline, on whichever thread the event happened (the caller's,
    /// an actor's or a hook lane's), so it should be quick: one that blocks holds teardown as a
    /// blocking interrupt would. A panic in it is caught and ignored; one in its `Drop` too.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// let mut group = rungroup::Group::new();
    /// group.observe(|event| eprintln!("{event}"));
    /// group.add(|| Ok(()), |_| {});
    /// assert!(group.run().is_ok());
    /// ```
    pub fn observe<F>(&mut self, observer: F) -> &mut Self
    where
        F: Fn(&Event<'_>) + Send + Sync + 'static,
    {
        self.observer = Some(crate::sync::arc_dyn!(observer));
        self
    }

    /// A handle that can stop this group from any thread, before or during `run` (rule T01).
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// use rungroup::{Group, Trigger};
    ///
    /// let mut group = Group::new();
    /// let stop = group.stop_handle();
    /// group.add_token(|token| { token.wait(); Ok(()) });
    /// stop.stop("deploy");
    /// let report = group.run_with_report();
    /// assert_eq!(report.trigger(), &Trigger::Stop { reason: "deploy".into() });
    /// ```
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle::new(Arc::clone(&self.control))
    }

    /// Declares a readiness condition named `name` and returns its handle (issue 13): the group
    /// is ready while it runs and every handle it made is [set](ReadyHandle::ready). Give the
    /// handle to the actor that must be up (listening, connected, warmed) before the service can
    /// take traffic. A group with no handle is ready once every actor was started.
    ///
    /// Readiness shows in events ([`Event::Ready`], [`Event::NotReady`]), in the report
    /// ([`Report::ready_at`](crate::Report::ready_at), [`Report::never_ready`](crate::Report::never_ready)), to a [`Readiness`] watcher, and to
    /// systemd (`READY=1`) with the `systemd` feature.
    pub fn ready_handle(&mut self, name: impl Into<String>) -> ReadyHandle {
        ready::Shared::declare(&self.readiness, name.into())
    }

    /// A watcher of this group's readiness, for a health endpoint or a test: see [`Readiness`].
    pub fn readiness(&self) -> Readiness {
        Readiness::new(&self.readiness)
    }

    /// Adds a *lame-duck* delay before teardown (issue 13): once teardown is triggered the
    /// group is not ready at once, then waits `delay` before it interrupts its first stage, so
    /// that load balancers (a Kubernetes readiness probe, an endpoint controller) stop sending
    /// traffic before the servers stop accepting it. Every actor keeps running meanwhile.
    ///
    /// The delay counts against the [budget](Group::budget), and is cut short by a second stop
    /// request (which then escalates, as it does anywhere in teardown). It is skipped when
    /// nothing is serving: a failed start, or every actor already gone. The report records how
    /// long it lasted ([`Report::lame_duck`](crate::Report::lame_duck)). See [the Kubernetes recipe] for fitting it, with the
    /// budget, under Kubernetes' `terminationGracePeriodSeconds`.
    ///
    /// [the Kubernetes recipe]: https://github.com/rungroup/rungroup/blob/main/docs/recipes.md#under-kubernetes-readiness-probe-and-lame-duck
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// use std::time::Duration;
    ///
    /// let mut group = rungroup::Group::new();
    /// group.lame_duck(Duration::from_secs(5)).budget(Duration::from_secs(20));
    /// # group.lame_duck(Duration::ZERO);
    /// # group.add(|| Ok(()), |_| {});
    /// # assert!(group.run().is_ok());
    /// ```
    pub fn lame_duck(&mut self, delay: Duration) -> &mut Self {
        self.lame_duck = Some(delay);
        self
    }

    /// Reports to systemd over its notify socket (`Type=notify` services; feature `systemd`,
    /// Unix): `READY=1` when the group becomes ready, `STOPPING=1` at the trigger, `STATUS=`
    /// lines naming the phase and stage, `EXTEND_TIMEOUT_USEC=` as each stage with a deadline
    /// begins, and, when the unit sets `WatchdogSec=`, `WATCHDOG=1` every half period for as long
    /// as nothing is stuck: once an actor had to be escalated or abandoned the pings stop for
    /// good, and while an interrupt has been inside its call for longer than the watchdog period
    /// they pause (a status line names it); systemd's watchdog then takes over.
    ///
    /// Does nothing when `NOTIFY_SOCKET` is not set, so the same binary runs outside systemd.
    /// Call it on the outermost group only: a [nested](crate::ActorBuilder::add_group) group that also
    /// reported would tell systemd it is ready, or stopping, on behalf of the whole service.
    /// Messages are sent from a thread of the group's own, never from an actor or the caller's
    /// thread, so a slow socket cannot delay teardown. See [the systemd recipe] for a unit file.
    ///
    /// [the systemd recipe]: https://github.com/rungroup/rungroup/blob/main/docs/recipes.md#under-systemd-typenotify-with-a-watchdog
    #[cfg(all(unix, feature = "systemd"))]
    #[cfg_attr(docsrs, doc(cfg(all(unix, feature = "systemd"))))]
    pub fn systemd(&mut self) -> &mut Self {
        self.systemd = true;
        self
    }

    /// The number of actors.
    pub fn len(&self) -> usize {
        self.actors.len()
    }

    /// Whether the group has no actors.
    pub fn is_empty(&self) -> bool {
        self.actors.is_empty()
    }
}

impl<E> fmt::Debug for Group<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field(
                "actors",
                &self
                    .actors
                    .iter()
                    .map(|actor| actor.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .field(
                "stages",
                &self
                    .stages
                    .iter()
                    .map(|stage| (stage.name.as_str(), stage.grace))
                    .collect::<Vec<_>>(),
            )
            .field("budget", &self.budget)
            .field("kill_grace", &self.kill_grace)
            .field("lame_duck", &self.lame_duck)
            .finish_non_exhaustive()
    }
}

/// Configures one actor of a [`Group`]; made by [`Group::actor`].
///
/// # Examples
///
/// ```
/// # if rungroup::doctest_skip() { return; }
/// use rungroup::{Group, Policy};
/// use std::time::Duration;
///
/// let mut group = Group::new();
/// let flush = group.stage("flush").id();
/// group
///     .actor("log-flusher")
///     .stage(flush)
///     .policy(Policy::OnError)
///     .force(|| eprintln!("dropping unflushed log lines"))
///     .add_token(|token| { token.wait(); Ok(()) });
/// # group.add(|| Ok(()), |_| {});
/// # assert!(group.run().is_ok());
/// ```
#[must_use = "an actor is added only by one of the `add*` or `supervise*` methods"]
pub struct ActorBuilder<'g, E> {
    // `pub(crate)` for the helpers' builders (signal.rs, io.rs, nest.rs): they need the group's
    // control, the actor's name for messages, and any force hook the caller set.
    pub(crate) group: &'g mut Group<E>,
    pub(crate) name: String,
    stage: Stage,
    policy: Policy,
    stack_size: Option<usize>,
    pub(crate) force: Option<Force>,
    spawned: bool,
}

impl<E: Send + Sync + 'static> ActorBuilder<'_, E> {
    /// Runs this future actor as a task of the group's [`Executor`] ([`Group::executor`]), in
    /// parallel with the group's thread, instead of polling it on that thread. The rules are the
    /// same: the group polls a proxy that completes when the task ends; a cancellation asks the
    /// task to drop the future and waits for it to have done so. For CPU-heavy or many busy
    /// actors on a multi-threaded runtime.
    ///
    /// `run` refuses the actor (with [`Error::Spawn`](crate::Error::Spawn), naming it, nothing started) if the group
    /// has no executor, or if the actor is not a future actor.
    pub fn spawned(mut self) -> Self {
        self.spawned = true;
        self
    }

    /// Places the actor in `stage` (rule S01).
    ///
    /// # Panics
    ///
    /// If `stage` was not made by this group's [`Group::stage`]; the message names the
    /// actor.
    pub fn stage(mut self, stage: Stage) -> Self {
        assert!(
            self.group.owns(stage),
            "rungroup: actor '{}' placed in stage #{}, which another group made",
            self.name,
            stage.index
        );
        self.stage = stage;
        self
    }

    /// Sets the exit policy (rule S07).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the escalation hook (rule S05): called once, if the actor has not returned when its
    /// stage's grace, the budget, or a second stop request runs out. Close the socket, kill the
    /// child process.
    pub fn force<F>(mut self, force: F) -> Self
    where
        F: FnOnce() + Send + 'static,
    {
        self.force = Some(Box::new(force));
        self
    }

    /// Sets this actor's thread stack size, overriding [`Group::stack_size`]. Default: the
    /// group's, else std's (2 MiB unless `RUST_MIN_STACK` says otherwise).
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Adds the actor with its execute and interrupt.
    pub fn add<X, I>(self, execute: X, interrupt: I) -> ActorId
    where
        X: FnOnce() -> Result<(), E> + Send + 'static,
        I: FnOnce(&Cause<E>) + Send + 'static,
    {
        self.finish(Body::Once(Box::new(execute)), Box::new(interrupt))
    }

    /// Adds the actor as a token actor (rule T03); see [`Group::add_token`].
    pub fn add_token<X>(self, execute: X) -> ActorId
    where
        X: FnOnce(StopToken) -> Result<(), E> + Send + 'static,
    {
        let token = StopToken::new();
        let stopper = token.clone();
        self.finish(
            Body::Once(Box::new(move || execute(token))),
            Box::new(move |_: &Cause<E>| stopper.stop()),
        )
    }

    /// Adds the actor under supervision (issue 13): `factory` builds an incarnation, an
    /// (execute, interrupt) pair, on the actor's thread; when the execute ends in a way `restart`
    /// restarts, the actor waits out the backoff and runs a new incarnation, up to the intensity
    /// limit. Then, or when an exit is not one to restart, that exit is the actor's exit, with
    /// its [`Policy`] as for any actor.
    ///
    /// To the group it is one actor: the interrupt teardown calls for it is passed to the current
    /// incarnation's interrupt, and no incarnation starts once it has been called or teardown
    /// has begun (a backoff under way then ends at once). Every restarted incarnation's outcome is
    /// in [`ActorReport::restarts`](crate::ActorReport::restarts); the last one's is the actor's
    /// [`outcome`](crate::ActorReport::outcome). Only that last exit counts for the run: a
    /// restarted incarnation's error or panic is not what [`Group::run`] returns or resumes.
    ///
    /// A panic in `factory` counts as that incarnation panicking. An interrupt of an incarnation
    /// that ended before the actor's interrupt came is dropped uncalled. If the actor's interrupt
    /// comes before its first incarnation is built, `factory` is never called and the actor ends
    /// `Ok`, as a well-behaved actor interrupted at once would.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// use rungroup::{Group, Restart};
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::time::Duration;
    ///
    /// let mut group = Group::new();
    /// let attempts = AtomicUsize::new(0);
    /// group
    ///     .actor("flaky")
    ///     .supervise(Restart::transient().backoff(Duration::ZERO, Duration::ZERO), move || {
    ///         let attempt = attempts.fetch_add(1, Ordering::Relaxed);
    ///         // Fails twice, then finishes (an `Ok` exit of a critical actor ends the group).
    ///         let execute = move || if attempt < 2 { Err("not yet".into()) } else { Ok(()) };
    ///         (execute, |_: &_| {})
    ///     });
    /// let report = group.run_with_report();
    /// assert_eq!(report.actors()[0].restarts.len(), 2);
    /// assert!(report.into_result().is_ok());
    /// ```
    pub fn supervise<F, X, I>(self, restart: Restart, factory: F) -> ActorId
    where
        F: FnMut() -> (X, I) + Send + 'static,
        X: FnOnce() -> Result<(), E> + Send + 'static,
        I: FnOnce(&Cause<E>) + Send + 'static,
    {
        let mut factory = factory;
        let (supervisor, interrupt) = Supervisor::factory(
            restart,
            Box::new(move || {
                let (execute, interrupt) = factory();
                (
                    Box::new(execute) as Execute<E>,
                    Box::new(interrupt) as Interrupt<E>,
                )
            }),
        );
        self.finish(Body::Supervised(supervisor), interrupt)
    }

    /// Adds the actor as a supervised token actor: as [`supervise`](Self::supervise), with each
    /// incarnation a call of `execute` with the actor's one [`StopToken`], which the group's
    /// interrupt stops (rule T03). A stopped token means no more restarts, whoever stopped it.
    /// The first call happens even if the token is already stopped (sticky, R07).
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// use rungroup::{Group, Restart};
    ///
    /// let mut group = Group::new();
    /// let mut calls = 0;
    /// group.actor("poller").supervise_token(Restart::permanent(), move |token| {
    ///     calls += 1;
    ///     token.wait();
    ///     Ok(())
    /// });
    /// group.actor("job").add(|| Ok(()), |_| {});
    /// let report = group.run_with_report();
    /// assert!(report.actors()[0].restarts.is_empty());
    /// ```
    pub fn supervise_token<X>(self, restart: Restart, execute: X) -> ActorId
    where
        X: FnMut(StopToken) -> Result<(), E> + Send + 'static,
    {
        let (supervisor, interrupt) = Supervisor::token(restart, Box::new(execute));
        self.finish(Body::Supervised(supervisor), interrupt)
    }

    /// Adds the actor as a future actor; see [`Group::add_future`].
    pub fn add_future<F, I>(self, execute: F, interrupt: I) -> ActorId
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        I: FnOnce(&Cause<E>) + Send + 'static,
    {
        let body = Body::Future {
            future: Box::pin(execute),
            cancel: false,
        };
        // Called on the group's thread, like the future's polls (see `Group::add_future`).
        self.finish_with(body, Box::new(interrupt), true)
    }

    /// Adds the actor as a future token actor; see [`Group::add_future_token`].
    pub fn add_future_token<X, F>(self, execute: X) -> ActorId
    where
        X: FnOnce(StopToken) -> F,
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        let token = StopToken::new();
        let stopper = token.clone();
        let body = Body::Future {
            future: Box::pin(execute(token)),
            cancel: false,
        };
        self.finish_with(body, Box::new(move |_: &Cause<E>| stopper.stop()), true)
    }

    /// Adds a cancel-safe future actor: its interrupt *drops* it (outcome
    /// [`Outcome::Cancelled`](crate::Outcome::Cancelled), which is not an error), in order with
    /// the other interrupts of its stage. For futures that may stop at any `.await`: a loop
    /// around `listener.accept()`, a ticker. Its exit before teardown counts as for any actor.
    ///
    /// # Examples
    ///
    /// ```
    /// # if rungroup::doctest_skip() { return; }
    /// use rungroup::{Group, Outcome};
    ///
    /// let mut group = Group::new();
    /// group.actor("forever").add_future_cancel(std::future::pending());
    /// group.actor("job").add(|| Ok(()), |_| {});
    /// let report = group.run_with_report();
    /// assert!(matches!(report.actors()[0].outcome, Outcome::Cancelled));
    /// assert!(report.into_result().is_ok());
    /// ```
    pub fn add_future_cancel<F>(self, execute: F) -> ActorId
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        let body = Body::Future {
            future: Box::pin(execute),
            cancel: true,
        };
        // The runner replaces the interrupt with one that drops the future.
        self.finish_with(body, Box::new(|_: &Cause<E>| {}), true)
    }

    fn finish(self, execute: Body<E>, interrupt: Interrupt<E>) -> ActorId {
        self.finish_with(execute, interrupt, false)
    }

    fn finish_with(self, execute: Body<E>, interrupt: Interrupt<E>, inline: bool) -> ActorId {
        let ActorBuilder {
            group,
            name,
            stage,
            policy,
            stack_size,
            force,
            spawned,
        } = self;
        group.actors.push(ActorSpec {
            name,
            stage: stage.index,
            policy,
            stack_size,
            execute,
            interrupt,
            force,
            inline,
            spawned,
        });
        ActorId {
            index: group.actors.len() - 1,
            group: group.identity(),
        }
    }
}

impl<E> fmt::Debug for ActorBuilder<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorBuilder")
            .field("name", &self.name)
            .field("stage", &self.stage)
            .field("policy", &self.policy)
            .field("stack_size", &self.stack_size)
            .field("force", &self.force.is_some())
            .finish_non_exhaustive()
    }
}

/// `actor-<index>`, the name of an actor added without one: written digit by digit, since
/// `format!` costs twice as much and a group of future actors pays it once per actor.
fn default_name(index: usize) -> String {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = index;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut name = String::with_capacity(6 + digits.len() - at);
    name.push_str("actor-");
    name.extend(digits[at..].iter().map(|&digit| char::from(digit)));
    name
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::*;

    /// A stage is this group's only if its identity matches and its index is in range: a stale
    /// `Stage` of a dropped group whose state happens to sit at the same address is still
    /// refused (the address can be reused; the index check is what is left).
    #[test]
    fn owns_refuses_an_index_past_the_stages_even_with_this_groups_identity() {
        let mut group: Group = Group::new();
        let drain = group.stage("drain").id();
        assert!(group.owns(Stage::DEFAULT));
        assert!(group.owns(drain));
        let identity = group.identity();
        for index in [2, 3] {
            assert!(!group.owns(Stage {
                index,
                group: identity
            }));
        }
        assert!(!group.owns(Stage {
            index: 1,
            group: identity + 1
        }));
    }

    #[test]
    fn default_names_are_actor_and_the_index() {
        for index in [0, 1, 9, 10, 99, 1023, 1_000_000, usize::MAX] {
            assert_eq!(default_name(index), format!("actor-{index}"));
        }
    }
}
