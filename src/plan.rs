//! The teardown planner: what teardown does next, decided from what happened (issue 12's "one
//! teardown core").
//!
//! Events in, actions out. No threads, no locks, no clock and no user code: the runner tells it
//! what it saw (the trigger, a wait that ended: drained, expired, or escalated by a second stop
//! request) with the time, and carries out what it answers (begin a stage, escalate a stage, end
//! a stage, wait until a deadline for a condition). The rules of S01, S04, S05 and S08 live here
//! alone, so they can be checked without threads: the property tests below drive the planner
//! through random schedules of events on a simulated clock, and the runner, which loom, shuttle
//! and the integration tests drive, is the planner's only other user.
//!
//! What the planner leaves to the runner is everything with a thread or a lock in it: which hook
//! lane an interrupt goes to, retiring a lane stuck in a hook, which actors are still running,
//! and what "drained" means for the lanes it watches.

use std::time::Duration;

use crate::sync::Frozen;
use crate::why::Escalation;

/// What a wait waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Until {
    /// Every actor has returned (the lame duck ends early then).
    AllDone,
    /// The stage's actors have all returned and its interrupts have all returned.
    Drained(usize),
    /// As `Drained`, after an escalation: the force hooks too.
    Killed(usize),
}

/// What the runner does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// The lame-duck delay begins: announce it.
    LameDuck { delay: Duration },
    /// The lame duck is over, after `elapsed`.
    LameDuckEnded { elapsed: Duration },
    /// Stage `stage` begins: announce it and hand out its interrupts.
    BeginStage { stage: usize },
    /// Escalate stage `stage` (S05): if `overdue` (a deadline passed while a hook was being
    /// called), free its interrupts from the lane stuck in one; hand out its interrupts not yet
    /// handed out; call the force hook of each actor still running (and drop each future actor).
    Escalate { stage: usize, overdue: bool },
    /// Stage `stage` is over.
    EndStage {
        stage: usize,
        elapsed: Duration,
        expired: bool,
        escalation: Option<Escalation>,
    },
    /// Wait until `until` holds, the deadline passes, or a stop request escalates; then tell the
    /// planner which ([`Event`]).
    Wait {
        until: Until,
        deadline: Option<Duration>,
    },
    /// Teardown is over.
    Done,
}

/// How a wait ended, as the runner tells the planner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// What it waited for holds.
    Done,
    /// Its deadline passed.
    Expired,
    /// A stop request came meanwhile (escalating, S05): `by` is the first such request.
    Escalated(Escalation),
}

/// Where teardown is.
#[derive(Clone, Debug)]
enum Step {
    /// Not started.
    Idle,
    LameDuck {
        begin: Duration,
    },
    /// Waiting for `stage` to drain within its grace and the budget.
    Draining {
        stage: usize,
        begin: Duration,
    },
    /// `stage` was escalated; waiting up to the kill grace for it to drain.
    Killing {
        stage: usize,
        begin: Duration,
        deadline: Option<Duration>,
        expired: bool,
        escalation: Option<Escalation>,
    },
    Done,
}

/// The planner of one run's teardown.
#[derive(Debug)]
pub(crate) struct Plan {
    graces: Vec<Option<Duration>>,
    names: Frozen<[String]>,
    budget: Option<Duration>,
    /// `None`: escalated actors are waited for as long as they take (no deadline configured).
    kill_grace: Option<Duration>,
    lame_duck: Option<Duration>,
    budget_deadline: Option<Duration>,
    /// Set once the budget is spent or a second stop request came: every stage from then on is
    /// escalated as soon as it begins.
    escalating: Option<Escalation>,
    step: Step,
}

fn min_deadline(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Plan {
    /// A plan for stages with these names and graces, a budget, and a kill grace (already
    /// defaulted by the caller), with an optional lame-duck delay before the first stage.
    pub(crate) fn new(
        names: Frozen<[String]>,
        graces: Vec<Option<Duration>>,
        budget: Option<Duration>,
        kill_grace: Option<Duration>,
        lame_duck: Option<Duration>,
    ) -> Self {
        Self {
            graces,
            names,
            budget,
            kill_grace,
            lame_duck,
            budget_deadline: None,
            escalating: None,
            step: Step::Idle,
        }
    }

    /// Whether a lame-duck delay is configured (the runner only looks at the actors if so).
    pub(crate) fn has_lame_duck(&self) -> bool {
        self.lame_duck.is_some()
    }

    /// Teardown was triggered at `at`; it starts at `now` (`lame_duck`: whether the lame-duck
    /// delay applies to this trigger and anything still runs). Fills `out` up to and including
    /// the first `Wait` or `Done`.
    pub(crate) fn start(
        &mut self,
        at: Duration,
        now: Duration,
        lame_duck: bool,
        out: &mut Vec<Action>,
    ) {
        debug_assert!(matches!(self.step, Step::Idle), "teardown started twice");
        self.budget_deadline = self.budget.map(|budget| at.saturating_add(budget));
        match self.lame_duck.filter(|_| lame_duck) {
            Some(delay) => {
                out.push(Action::LameDuck { delay });
                self.step = Step::LameDuck { begin: now };
                let deadline = min_deadline(Some(now.saturating_add(delay)), self.budget_deadline);
                out.push(Action::Wait {
                    until: Until::AllDone,
                    deadline,
                });
            }
            None => self.begin_stage(0, now, out),
        }
    }

    /// The wait last asked for ended with `event` at `now`. Fills `out` up to and including the
    /// next `Wait` or `Done`.
    pub(crate) fn on(&mut self, event: Event, now: Duration, out: &mut Vec<Action>) {
        match std::mem::replace(&mut self.step, Step::Done) {
            Step::LameDuck { begin } => {
                match event {
                    Event::Escalated(by) => self.escalating = Some(by),
                    Event::Expired if self.budget_spent(now) => {
                        self.escalating = Some(Escalation::Budget);
                    }
                    Event::Expired | Event::Done => {}
                }
                out.push(Action::LameDuckEnded {
                    elapsed: now.saturating_sub(begin),
                });
                self.begin_stage(0, now, out);
            }
            Step::Draining { stage, begin } => match event {
                Event::Done => self.end_stage(stage, begin, now, false, None, out),
                Event::Escalated(by) => {
                    // Escalates at once (force hooks now), but no deadline has passed: the
                    // stage's interrupts stay one at a time on their lane (R05).
                    self.escalating = Some(by.clone());
                    self.escalate(stage, begin, now, None, false, false, Some(by), out);
                }
                Event::Expired if self.budget_spent(now) => {
                    self.escalating = Some(Escalation::Budget);
                    let why = Some(Escalation::Budget);
                    self.escalate(stage, begin, now, None, true, true, why, out);
                }
                Event::Expired => {
                    // Only this stage's grace: its kill grace may not outlast the budget.
                    let why = Some(Escalation::Grace {
                        stage: self.names[stage].clone(),
                    });
                    let cap = self.budget_deadline;
                    self.escalate(stage, begin, now, cap, true, true, why, out);
                }
            },
            Step::Killing {
                stage,
                begin,
                deadline,
                expired,
                escalation,
            } => match event {
                // A further stop request does not cut the kill grace short; it makes every later
                // stage escalate at once.
                Event::Escalated(by) => {
                    self.escalating.get_or_insert(by);
                    self.kill_wait(stage, begin, deadline, expired, escalation, out);
                }
                Event::Done | Event::Expired => {
                    self.end_stage(stage, begin, now, expired, escalation, out);
                }
            },
            step @ (Step::Idle | Step::Done) => {
                debug_assert!(false, "no wait was asked for in {step:?}");
                self.step = step;
                out.push(Action::Done);
            }
        }
    }

    fn budget_spent(&self, now: Duration) -> bool {
        self.budget_deadline.is_some_and(|deadline| now >= deadline)
    }

    fn begin_stage(&mut self, stage: usize, now: Duration, out: &mut Vec<Action>) {
        if stage == self.graces.len() {
            self.step = Step::Done;
            out.push(Action::Done);
            return;
        }
        out.push(Action::BeginStage { stage });
        if self.escalating.is_none() && self.budget_spent(now) {
            self.escalating = Some(Escalation::Budget);
        }
        match self.escalating.clone() {
            // The budget is spent or a second request came: no grace, escalate at once.
            Some(why) => {
                let expired = why == Escalation::Budget;
                self.escalate(stage, now, now, None, false, expired, Some(why), out);
            }
            None => {
                let grace = self.graces[stage].map(|grace| now.saturating_add(grace));
                self.step = Step::Draining { stage, begin: now };
                out.push(Action::Wait {
                    until: Until::Drained(stage),
                    deadline: min_deadline(grace, self.budget_deadline),
                });
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn escalate(
        &mut self,
        stage: usize,
        begin: Duration,
        now: Duration,
        cap: Option<Duration>,
        overdue: bool,
        expired: bool,
        escalation: Option<Escalation>,
        out: &mut Vec<Action>,
    ) {
        out.push(Action::Escalate { stage, overdue });
        let deadline = match self.kill_grace {
            Some(kill_grace) => min_deadline(Some(now.saturating_add(kill_grace)), cap),
            None => cap,
        };
        self.kill_wait(stage, begin, deadline, expired, escalation, out);
    }

    /// Waits (again) for escalated `stage` to drain, until `deadline`.
    fn kill_wait(
        &mut self,
        stage: usize,
        begin: Duration,
        deadline: Option<Duration>,
        expired: bool,
        escalation: Option<Escalation>,
        out: &mut Vec<Action>,
    ) {
        self.step = Step::Killing {
            stage,
            begin,
            deadline,
            expired,
            escalation,
        };
        out.push(Action::Wait {
            until: Until::Killed(stage),
            deadline,
        });
    }

    fn end_stage(
        &mut self,
        stage: usize,
        begin: Duration,
        now: Duration,
        expired: bool,
        escalation: Option<Escalation>,
        out: &mut Vec<Action>,
    ) {
        out.push(Action::EndStage {
            stage,
            elapsed: now.saturating_sub(begin),
            expired,
            escalation,
        });
        self.begin_stage(stage + 1, now, out);
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::*;
    use crate::why::Trigger;
    use proptest::prelude::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    /// How the simulated world answers a wait.
    #[derive(Clone, Debug)]
    enum Answer {
        /// Drained this far into the wait (as a fraction of the time left, in 1/8ths).
        Drained(u8),
        /// Nothing happens before the deadline.
        Expire,
        /// A second stop request this far into the wait.
        Request(u8),
    }

    #[derive(Clone, Debug)]
    struct Case {
        graces: Vec<Option<u64>>,
        budget: Option<u64>,
        kill_grace: Option<u64>,
        lame_duck: Option<u64>,
        answers: Vec<Answer>,
    }

    fn answer() -> impl Strategy<Value = Answer> {
        prop_oneof![
            (0u8..8).prop_map(Answer::Drained),
            Just(Answer::Expire),
            (0u8..8).prop_map(Answer::Request),
        ]
    }

    fn case() -> impl Strategy<Value = Case> {
        (
            prop::collection::vec(prop::option::of(1u64..100), 1..5),
            prop::option::of(1u64..200),
            prop::option::of(1u64..20),
            prop::option::of(1u64..50),
            prop::collection::vec(answer(), 0..40),
        )
            .prop_map(|(graces, budget, kill_grace, lame_duck, answers)| Case {
                graces,
                budget,
                kill_grace,
                lame_duck,
                answers,
            })
    }

    /// What one run of the planner did, on the simulated clock.
    #[derive(Debug, Default)]
    struct Trace {
        begun: Vec<usize>,
        ended: Vec<(usize, bool, Option<Escalation>)>,
        escalated: Vec<(usize, bool)>,
        /// Whether each `Escalate { overdue: true }` came right after an expired deadline.
        overdue_after_expiry: Vec<bool>,
        finished_at: Duration,
        waits: usize,
    }

    /// Drives the planner: each wait is answered from `case.answers` (then by draining at once).
    fn drive(case: &Case) -> Trace {
        let names = (0..case.graces.len()).map(|i| format!("s{i}")).collect();
        let graces = case.graces.iter().map(|g| g.map(S)).collect();
        let kill_grace = case
            .kill_grace
            .or((case.budget.is_some() || case.graces.iter().any(Option::is_some)).then_some(1));
        let mut plan = Plan::new(
            names,
            graces,
            case.budget.map(S),
            kill_grace.map(S),
            case.lame_duck.map(S),
        );
        let mut now = S(0);
        let mut out = Vec::new();
        let mut trace = Trace::default();
        let mut answers = case.answers.iter();
        let mut last_event = None;
        plan.start(now, now, true, &mut out);
        loop {
            let mut wait = None;
            for action in out.drain(..) {
                match action {
                    Action::BeginStage { stage } => trace.begun.push(stage),
                    Action::EndStage {
                        stage,
                        expired,
                        escalation,
                        ..
                    } => trace.ended.push((stage, expired, escalation)),
                    Action::Escalate { stage, overdue } => {
                        trace.escalated.push((stage, overdue));
                        if overdue {
                            trace
                                .overdue_after_expiry
                                .push(last_event == Some(Event::Expired));
                        }
                    }
                    Action::Wait { until, deadline } => wait = Some((until, deadline)),
                    Action::Done => {
                        trace.finished_at = now;
                        return trace;
                    }
                    Action::LameDuck { .. } | Action::LameDuckEnded { .. } => {}
                }
            }
            let (_, deadline) = wait.expect("every batch ends with Wait or Done");
            trace.waits += 1;
            assert!(trace.waits < 1000, "the planner never finished");
            let left = deadline.map(|deadline| deadline.saturating_sub(now));
            let at = |eighths: u8| {
                left.map_or(S(u64::from(eighths)), |left| left * u32::from(eighths) / 8)
            };
            let event = match (answers.next(), deadline) {
                (Some(Answer::Expire), Some(deadline)) => {
                    now = deadline;
                    Event::Expired
                }
                (Some(Answer::Request(eighths)), _) => {
                    now += at(*eighths);
                    Event::Escalated(Escalation::Request(Trigger::Stop {
                        reason: "again".into(),
                    }))
                }
                (Some(Answer::Drained(eighths)), _) => {
                    now += at(*eighths);
                    Event::Done
                }
                // No deadline to expire, or no answers left: it drains at once.
                _ => Event::Done,
            };
            last_event = Some(event.clone());
            plan.on(event, now, &mut out);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// S01: every stage begins once and ends once, in order, each before the next begins.
        #[test]
        fn s01_i12_plan_stages_begin_and_end_once_in_order(case in case()) {
            let trace = drive(&case);
            let stages: Vec<usize> = (0..case.graces.len()).collect();
            prop_assert_eq!(&trace.begun, &stages);
            let ended: Vec<usize> = trace.ended.iter().map(|(stage, ..)| *stage).collect();
            prop_assert_eq!(ended, stages);
        }

        /// S08: with a budget, teardown ends within the lame duck (which counts in the budget),
        /// the budget and one kill grace per stage.
        #[test]
        fn s08_i12_plan_ends_within_budget_plus_kill_graces(case in case()) {
            let Some(budget) = case.budget else { return Ok(()) };
            let trace = drive(&case);
            let kill = case.kill_grace.unwrap_or(1);
            let bound = S(budget + kill * case.graces.len() as u64);
            prop_assert!(trace.finished_at <= bound, "{:?} > {:?}", trace.finished_at, bound);
        }

        /// S04: interrupts are freed from a stuck lane (overdue) only after a deadline passed.
        #[test]
        fn s04_i12_plan_frees_interrupts_only_after_a_deadline(case in case()) {
            let trace = drive(&case);
            prop_assert!(trace.overdue_after_expiry.iter().all(|&after| after));
        }

        /// S05: once a stage is escalated by a second request or the spent budget, every later
        /// stage is escalated as soon as it begins, and an escalated stage says why.
        #[test]
        fn s05_i12_plan_escalates_every_stage_after_the_first_escalation(case in case()) {
            let trace = drive(&case);
            let first_sticky = trace.ended.iter().position(|(_, _, why)| {
                matches!(why, Some(Escalation::Request(_) | Escalation::Budget))
            });
            if let Some(first) = first_sticky {
                for (stage, _, why) in &trace.ended[first..] {
                    prop_assert!(why.is_some(), "stage {} not escalated after {}", stage, first);
                    prop_assert!(trace.escalated.iter().any(|(s, _)| s == stage));
                }
            }
            for (stage, _) in &trace.escalated {
                prop_assert!(trace.ended[*stage].2.is_some());
            }
        }
    }

    /// The examples the properties generalize: one stage, its grace expires, its kill grace too.
    #[test]
    fn s04_i12_plan_example_grace_then_kill_grace() {
        let names = Frozen::from(["default".to_owned()]);
        let mut plan = Plan::new(names, vec![Some(S(5))], None, Some(S(1)), None);
        let mut out = Vec::new();
        plan.start(S(0), S(0), false, &mut out);
        assert_eq!(
            out,
            [
                Action::BeginStage { stage: 0 },
                Action::Wait {
                    until: Until::Drained(0),
                    deadline: Some(S(5))
                }
            ]
        );
        out.clear();
        plan.on(Event::Expired, S(5), &mut out);
        assert_eq!(
            out,
            [
                Action::Escalate {
                    stage: 0,
                    overdue: true
                },
                Action::Wait {
                    until: Until::Killed(0),
                    deadline: Some(S(6))
                }
            ]
        );
        out.clear();
        plan.on(Event::Expired, S(6), &mut out);
        let why = Some(Escalation::Grace {
            stage: "default".into(),
        });
        assert_eq!(
            out,
            [
                Action::EndStage {
                    stage: 0,
                    elapsed: S(6),
                    expired: true,
                    escalation: why
                },
                Action::Done
            ]
        );
    }
}
