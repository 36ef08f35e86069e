//! Future actors spawned on the user's executor (issue 12): [`Executor`] and the task/proxy pair.
//!
//! A spawned actor's future runs as a task of the user's executor, in parallel with the group's
//! thread. The group's driver polls a *proxy* in its place, which completes when the task reports
//! the actor's end. So the rules stay the driver's: the proxy's completion is the actor's exit, a
//! panic in the task is re-raised in the proxy's poll (and caught there by the driver, payload
//! intact), and a cancellation (escalation, or the actor's interrupt for a cancel-safe actor) asks
//! the task to drop the future and waits for it to say it has: the actor's exit is recorded only
//! once its future is gone (R11). A task the executor never runs again is abandoned, as a thread
//! would be.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Waker};

use crate::actor::BoxFuture;
use crate::sync::Mutex;
use crate::unwind;
use crate::unwind::Payload;

/// Spawns the group's [`spawned`](crate::ActorBuilder::spawned) future actors on an executor of
/// the user's choice, for parallelism: hyper's one-method shape.
///
/// # Examples
///
/// ```
/// use rungroup::Executor;
/// use std::future::Future;
/// use std::pin::Pin;
///
/// /// Every task on a thread of its own, driven by a small `block_on`.
/// struct ThreadPerTask;
///
/// impl Executor for ThreadPerTask {
///     fn execute(&self, task: Pin<Box<dyn Future<Output = ()> + Send>>) {
///         std::thread::spawn(move || {
///             # fn block_on(future: Pin<Box<dyn Future<Output = ()> + Send>>) {
///             #     struct Unpark(std::thread::Thread);
///             #     impl std::task::Wake for Unpark {
///             #         fn wake(self: std::sync::Arc<Self>) { self.0.unpark() }
///             #     }
///             #     let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
///             #     let mut cx = std::task::Context::from_waker(&waker);
///             #     let mut future = future;
///             #     while future.as_mut().poll(&mut cx).is_pending() { std::thread::park(); }
///             # }
///             block_on(task)
///         });
///     }
/// }
/// ```
pub trait Executor: Send + Sync + 'static {
    /// Runs `task` to completion, in the background. The task never panics (it catches the
    /// actor's panics and reports them to the group).
    fn execute(&self, task: Pin<Box<dyn Future<Output = ()> + Send>>);
}

/// tokio as the [`Executor`] of [`spawned`](crate::ActorBuilder::spawned) actors (feature
/// `tokio`): `tokio::spawn` on the runtime it was made in.
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[derive(Clone, Debug)]
pub struct TokioExecutor {
    handle: tokio::runtime::Handle,
}

#[cfg(feature = "tokio")]
impl TokioExecutor {
    /// The executor of the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (as `tokio::runtime::Handle::current`).
    #[must_use]
    pub fn current() -> Self {
        Self {
            handle: tokio::runtime::Handle::current(),
        }
    }

    /// The executor of the runtime behind `handle`.
    #[must_use]
    pub fn new(handle: tokio::runtime::Handle) -> Self {
        Self { handle }
    }
}

#[cfg(feature = "tokio")]
impl Executor for TokioExecutor {
    fn execute(&self, task: Pin<Box<dyn Future<Output = ()> + Send>>) {
        drop(self.handle.spawn(task));
    }
}

/// How the task ended, as it tells the proxy.
enum End<E> {
    Exited(Result<Result<(), E>, Payload>),
    /// Dropped at the group's request; the panic of that drop, if any.
    Cancelled(Option<Payload>),
}

struct State<E> {
    end: Option<End<E>>,
    /// The group asked the task to drop the future.
    cancel: bool,
    /// The task's waker, to wake it for a cancellation.
    task: Option<Waker>,
    /// The proxy's waker (the driver's waker of this actor).
    proxy: Option<Waker>,
}

/// What the task and the proxy share.
pub(crate) struct Link<E> {
    state: Mutex<State<E>>,
}

impl<E> Link<E> {
    /// Asks the task to drop the actor's future (at its next poll).
    pub(crate) fn cancel(&self) {
        let task = {
            let mut state = self.state.lock();
            state.cancel = true;
            state.task.take()
        };
        if let Some(task) = task {
            task.wake();
        }
    }

    /// Called by the task: the actor ended. Wakes the proxy.
    fn end(&self, end: End<E>) {
        let proxy = {
            let mut state = self.state.lock();
            state.end = Some(end);
            state.proxy.take()
        };
        if let Some(proxy) = proxy {
            proxy.wake();
        }
    }
}

/// The task run by the executor.
struct Task<E> {
    future: Option<BoxFuture<E>>,
    link: StdArc<Link<E>>,
}

impl<E> Future for Task<E> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let cancel = {
            let mut state = self.link.state.lock();
            if !state.cancel {
                state.task = Some(cx.waker().clone());
            }
            state.cancel
        };
        let Some(future) = self.future.as_mut() else {
            return Poll::Ready(());
        };
        if cancel {
            let panic = unwind::drop_caught(self.future.take());
            self.link.end(End::Cancelled(panic));
            return Poll::Ready(());
        }
        let result = match unwind::catch(|| future.as_mut().poll(cx)) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(result)) => Ok(result),
            Err(payload) => Err(payload),
        };
        // Dropped here, on the task, before the group hears of the exit (R11); a panic in that
        // drop is the actor's, as for a future the group polls itself.
        let result = match (unwind::drop_caught(self.future.take()), result) {
            (Some(payload), Ok(_)) => Err(payload),
            (Some(payload), Err(first)) => {
                unwind::drop_quietly(payload);
                Err(first)
            }
            (None, result) => result,
        };
        self.link.end(End::Exited(result));
        Poll::Ready(())
    }
}

impl<E> Drop for Task<E> {
    /// An executor that drops the task before it completed (shutting down) drops the future:
    /// the group hears of it as a cancellation.
    fn drop(&mut self) {
        if self.future.is_some() {
            let panic = unwind::drop_caught(self.future.take());
            self.link.end(End::Cancelled(panic));
        }
    }
}

/// What the group's driver polls in place of a spawned actor: completes when the task has ended.
pub(crate) struct Proxy<E> {
    link: StdArc<Link<E>>,
}

/// The proxy's output: the actor's exit, or its cancellation.
pub(crate) enum Settled<E> {
    Exited(Result<(), E>),
    Cancelled(Option<Payload>),
}

impl<E> Future for Proxy<E> {
    type Output = Settled<E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Settled<E>> {
        let end = {
            let mut state = self.link.state.lock();
            match state.end.take() {
                Some(end) => end,
                None => {
                    state.proxy = Some(cx.waker().clone());
                    return Poll::Pending;
                }
            }
        };
        match end {
            End::Exited(Ok(result)) => Poll::Ready(Settled::Exited(result)),
            // Re-raised here, where the driver catches it: the actor panicked, payload intact.
            End::Exited(Err(payload)) => std::panic::resume_unwind(payload),
            End::Cancelled(panic) => Poll::Ready(Settled::Cancelled(panic)),
        }
    }
}

/// Spawns `future` on `executor`; returns the proxy and the link (to cancel it). A panic in the
/// executor's `execute` is returned (the task, and so the future, dropped with it).
pub(crate) fn spawn<E: Send + 'static>(
    executor: &dyn Executor,
    future: BoxFuture<E>,
) -> Result<(Proxy<E>, StdArc<Link<E>>), Payload> {
    let link = StdArc::new(Link {
        state: Mutex::new(State {
            end: None,
            cancel: false,
            task: None,
            proxy: None,
        }),
    });
    let task = Task {
        future: Some(future),
        link: StdArc::clone(&link),
    };
    unwind::catch(|| executor.execute(Box::pin(task)))?;
    Ok((
        Proxy {
            link: StdArc::clone(&link),
        },
        link,
    ))
}

impl<E> fmt::Debug for Link<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link").finish_non_exhaustive()
    }
}
