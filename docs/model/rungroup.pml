/*
 * rungroup.pml: a Promela model of rungroup's run/teardown protocol, checked with Spin.
 *
 * It follows src/state.rs (state word, per-stage live counters, wake mutex + condvar),
 * src/body.rs (actor_main: the first exit's thread then serves the hook lane), src/lane.rs (a
 * lane: one hook at a time, in order; retire; close), src/plan.rs (the teardown planner: events
 * in, actions out), src/runner.rs (Runner::teardown carrying out the planner's actions, the
 * waits, finish) and src/stop.rs (stop requests), at the level of shared variables and atomic
 * steps. Time is nondeterminism at the runner's clock reads; payloads are the three result kinds;
 * threads are processes. docs/model/README.md maps every name to the Rust code; check.sh runs it.
 *
 * Compile-time knobs (spin -D...):
 *   N=2..5        number of actors (default 3); there are S=2 stages.
 *   STOPS=k       stop requests the outside world may make (default 2: trigger + escalate).
 *   BUDGET=b GRACE0=g GRACE1=g   deadlines: 0 off, 1 on, 2 either (default; chosen in init).
 *                 All 0 is the oklog/run case: interrupts on the hook lane, no kill grace.
 *                 With any of them the kill grace is on (the runner's DEFAULT_KILL_GRACE).
 *   EXIT=3|2|1    steps of an actor's exit: 3 publish / compare-exchange / leave (default);
 *                 2 publish+compare-exchange / leave; 1 all at once (for large N).
 *   PANICS        an execute may also panic (by default Ok or Err: protocol-wise a panic is an
 *                 Err; it differs only in what into_result does with it).
 *   SLOW          a hook may also return late: the lane stays inside it (running) for any number
 *                 of steps of the others (by default a hook returns in the step that calls it, or
 *                 blocks for ever).
 *   NOHANG        no hook blocks forever and every execute eventually returns.
 *   LIVE          liveness run (spin -a, pan -a -f): adds actors that wait for their interrupt,
 *                 lets the stop requester quit, and the `terminates` LTL property.
 *   Seeded bugs: BUG_NO_CAS, BUG_STAGE_SKIP, BUG_NOTIFY_NOLOCK, BUG_LANE_NO_NOTIFY (a lane goes
 *   idle without notifying the runner), BUG_DOUBLE_INTERRUPT, the three defects the first version
 *   of this model found in src/ (fixed there; README "Found in src/"): BUG_FORCE_WINNER (K1),
 *   BUG_FINISH_NO_WAIT (K2), BUG_NO_LANE_WAIT (K3); and, for the planner-driven runner:
 *   BUG_STOP_FREES_QUEUE, BUG_ESCALATE_AT_ONCE, BUG_FIRST_NO_SERVE.
 */

#ifndef N
#define N 3
#endif
#define S 2
#ifndef STOPS
#define STOPS 2
#endif
#ifndef BUDGET
#define BUDGET 2
#endif
#ifndef GRACE0
#define GRACE0 2
#endif
#ifndef GRACE1
#define GRACE1 2
#endif
#if defined(BUG_NOTIFY_NOLOCK) || defined(BUG_LANE_NO_NOTIFY)
#define CONDVAR
#endif

/* Lanes: 0 is Core::first_lane (the hook lane at the start); the others are created on demand:
 * a fresh hook lane after a retire (Runner::send -> spawn_lane), and one force lane per escalated
 * stage. At most 6 with S = 2 (first lane; per stage: a fresh hook lane, a force lane; one more
 * fresh hook lane for the interrupts carried into stage 1). */
#define MAXL 6
#define NONE 255
#define EXT  N          /* who = EXTERNAL */

/* phase bits of the state word */
#define RUNNING   0
#define TRIGGERED 1
#define FINISHED  3

/* an execute's result as written into its slot; EMPTY is the slot's None */
#define EMPTY    0
#define R_OK     1
#define R_ERR    2
#define R_PANIC  3
#define RETAINED 4      /* report only: Outcome::Retained */

/* Runner::wait outcomes (the planner's Event); W_NONE: keep waiting */
#define W_NONE 0
#define W_DONE 1        /* Event::Done */
#define W_EXP  2        /* Event::Expired */
#define W_ESC  3        /* Event::Escalated */

/* what run() returns (Report::into_result) */
#define RES_NONE  0
#define RES_OK    1
#define RES_ERR   2     /* the first exit's Err */
#define RES_PANIC 3     /* a panic resumed on the caller */
#define RES_FAIL  4     /* a run error that always fails: Error::Abandoned */
#define RES_ESC   5     /* Error::Escalated (only when the first exit is Ok or external) */

/* ---------------- the planner's actions (src/plan.rs Action) and Until ---------------- */
#define A_BEGIN 1       /* BeginStage { stage } */
#define A_ESC   2       /* Escalate { stage, overdue } */
#define A_END   3       /* EndStage { stage, escalation: Some? } */
#define A_WAIT  4       /* Wait { until, deadline }: arg = until * 8 + deadline mask */
#define A_DONE  5       /* Done */
#define U_NONE    0
#define U_DRAINED 1     /* Until::Drained(stage) */
#define U_KILLED  2     /* Until::Killed(stage) */
#define D_GRACE   1     /* the deadline includes the stage's grace */
#define D_BUDGET  2     /* ... the budget */
#define D_KILL    4     /* ... the kill grace (now + kill_grace at the Escalate) */

/* the planner's Step */
#define P_IDLE  0
#define P_DRAIN 1       /* Step::Draining { stage } */
#define P_KILL  2       /* Step::Killing { stage, deadline, expired } */
#define P_DONE  3

/* ---------------- configuration, chosen in init ---------------- */
bit  has_budget;
bit  has_grace[S];
bit  bounded;                   /* Runner::bounded: a grace or budget; then the kill grace is on */
byte stage_of[N];
bit  onerror[N];                /* Policy::OnError, else Critical */
byte nsize[S];

/* ---------------- shared state ---------------- */
byte phase = RUNNING;           /* Control::state, phase bits */
byte who = NONE;                /* Control::state, who bits */
byte live[S];                   /* Live::stages */
byte slot[N];                   /* Core::slots */
bit  wl;                        /* wake mutex held across check..park (BUG_NOTIFY_NOLOCK only) */
bit  waiting;                   /* the runner is parked on WakePair::cond */
bit  signalled;                 /* a notify_one reached the parked runner */
byte escalations;               /* Wake::escalations */
byte seen;                      /* Runner::escalations_seen */
byte esc_left = STOPS;          /* stop requests not yet made */
#if STOPS > 0
#define ARRIVE if :: esc_left > 0 && phase != RUNNING -> escalations++; esc_left-- :: true -> skip fi;
#else
#define ARRIVE
#endif
bit  external;                  /* Wake::external is Some */

/* ---------------- time, as the runner has observed it ---------------- */
bit budget_armed, budget_fired; /* Plan::budget_deadline = triggered_at + budget; now >= it */
bit grace_fired[S];             /* now >= stage begin + grace */
bit kill_fired[S];              /* now >= the stage's Escalate time + kill_grace */
bit dl_g, dl_b, dl_k;           /* which deadlines bound the current wait (the Wait's deadline) */

/* ---------------- the planner (src/plan.rs Plan), its state ---------------- */
chan acts = [6] of { byte, byte, byte };  /* `out: Vec<Action>`: kind, stage, argument */
byte pstep = P_IDLE;            /* Plan::step */
byte pstage;                    /* the stage of Draining / Killing */
bit  pesc;                      /* Plan::escalating is Some */
bit  pesc_b;                    /* ... and it is Escalation::Budget */

byte kmask;                     /* Killing::deadline: D_KILL and/or D_BUDGET (the cap) */

/* ---------------- lanes (src/lane.rs) ---------------- */
#ifndef BUG_DOUBLE_INTERRUPT
#define QCAP N
#else
#define QCAP (2 * N)
#endif
chan q[MAXL] = [QCAP] of { byte };  /* LaneState::queue; j < N: interrupt of j, else force of j-N */
byte lrun[MAXL];                /* LaneState::running: the hook being called, or NONE */
bit  lclosed[MAXL];             /* LaneState::closed (retire, close) */
bit  lholds[MAXL];              /* a job of the lane still holds its Arc<Cause> */
bit  lfin[MAXL];                /* ghost: the lane said it is idle (and notified) */
byte nl = 1;                    /* lanes in Runner::lanes: 0 .. nl-1 (lane 0: the first lane) */
bit  first_free;                /* lane 0 has a thread: the first exit's, or one started for it */

/* ---------------- the runner's entries and lanes ---------------- */
bit  taken[N];                  /* Entry::interrupt was taken (handed to a lane) */
bit  escalated[N];              /* Entry::escalated */
byte hl = 0;                    /* Runner::hook_lane (NONE once retired) */
byte watched;                   /* Runner::watched, a bit per lane */
chan carry = [QCAP] of { byte };   /* Runner::carried */
chan jobs = [QCAP] of { byte };    /* scratch: a Vec<Job> on its way to Runner::send */

/* ---------------- ghosts: what really happened ---------------- */
byte wins;                      /* successful RUNNING -> TRIGGERED transitions */
bit  exited[N];                 /* the execute returned (and published its outcome) */
byte nexit[S];
byte icalls[N];                 /* calls of each interrupt */
bit  iret[N];                   /* the interrupt returned */
byte fcalls[N];                 /* calls of each force hook */
byte in_intr;                   /* interrupts called and not returned (blocked ones stay) */
byte lastkey;                   /* (stage, index) of the last interrupt called: R05 order */
byte culprits;                  /* hooks blocked forever + executes that ignore everything */
bit  gave_up;                   /* a kill-grace wait (Until::Killed) ended Expired */
bit  returned;                  /* run() has returned */
byte wcode;                     /* which wait the runner is parked in (watchdog) */
byte wuntil;                    /* the current wait's Until */
byte stage_cur;                 /* the current wait's stage */
bit  rep_blocked[N];            /* report: interrupt HookOutcome::Blocked */
bit  rep_skipped[N];            /* report: interrupt HookOutcome::Skipped */
bit  force_unfinished;          /* report: some force hook Blocked or Skipped */
bit  abandoned[N];              /* report: Outcome::Abandoned */
byte result = RES_NONE;

/* reachability witnesses (-DWITNESS=k): check.sh expects each to be violated, i.e. reached */
#ifdef WITNESS
#if WITNESS == 1
#define WITNESS_COND (abandoned[0] || abandoned[1])       /* an actor is abandoned */
#elif WITNESS == 2
#define WITNESS_COND (rep_blocked[0] || rep_blocked[1])   /* an interrupt is reported blocked */
#elif WITNESS == 3
#define WITNESS_COND (budget_fired)                       /* the budget ran out */
#elif WITNESS == 4
#define WITNESS_COND (grace_fired[0])                     /* stage 0's grace expired */
#elif WITNESS == 5
#define WITNESS_COND (escalations > 0)                    /* a stop request escalated */
#elif WITNESS == 6
#define WITNESS_COND (who == EXT && esc_left < STOPS)     /* a stop request triggered */
#elif WITNESS == 7
#define WITNESS_COND (who == EXT && esc_left == STOPS)    /* every actor left: AllExited */
#elif WITNESS == 8
#define WITNESS_COND (result == RES_ERR)                  /* run returned the first exit's Err */
#elif WITNESS == 9
#define WITNESS_COND (result == RES_PANIC)                /* run resumed a panic */
#elif WITNESS == 10
#define WITNESS_COND (in_intr > 1)                        /* a retired lane's hook and a fresh lane's overlap */
#elif WITNESS == 11
#define WITNESS_COND (rep_skipped[0] || rep_skipped[1])   /* an interrupt is reported skipped */
#elif WITNESS == 12
#define WITNESS_COND (result == RES_ESC)                  /* run returned Error::Escalated */
#elif WITNESS == 13
#define WITNESS_COND (kill_fired[1] && pesc && !pesc_b)   /* stage 1's kill grace ran out after a second stop */
#endif
#endif

/* a deadline expired (a grace, the budget, a kill grace): S04's "then, and only then" may an
 * interrupt run beside an earlier one that has not returned, or out of order */
#define RELEASED_ANY (grace_fired[0] || grace_fired[1] || budget_fired || kill_fired[0] || kill_fired[1])
/* S01: every actor of the stages before s has exited, or stage 0's grace or kill grace expired, or
 * the budget ran out (S = 2). A second stop request alone does not release the next stage. */
#define RELEASED_BEFORE(s) ((s) == 0 || nexit[0] == nsize[0] || grace_fired[0] || kill_fired[0] || budget_fired)

#ifndef BUG_FORCE_WINNER
/* Runner::has_exited: the slot is filled, or it is the first exit (whose slot was taken) */
#define HAS_EXITED(i) (slot[i] != EMPTY || i == who)
#else
#define HAS_EXITED(i) (slot[i] != EMPTY)      /* K1: the slot alone; the winner reads as running */
#endif

/* notify_one under the wake lock: the lock's critical sections are atomic steps here */
#define SIGNAL if :: waiting -> signalled = 1 :: else -> skip fi

/* Control::request, entirely under the wake lock. ESC: a stop request; 0: the runner's own
 * AllExited, which never escalates. */
inline REQUEST(ESC) {
  atomic { !wl ->
    if
    :: phase == RUNNING ->
       phase = TRIGGERED; who = EXT; wins++; assert(wins == 1); external = 1; SIGNAL
    :: else ->
       if
       :: phase == FINISHED || !ESC -> skip
       :: else -> escalations++; SIGNAL
       fi
    fi }
}

/* An interrupt is called: R04 (at most once), S01 (stage order), R05 (one at a time, in
 * registration order) unless a deadline expired (S04). */
inline CALL_INTERRUPT(i) {
  icalls[i]++;
  assert(icalls[i] <= 1);
  assert(RELEASED_BEFORE(stage_of[i]));
  assert(in_intr == 0 || RELEASED_ANY);
  assert(stage_of[i] * N + i + 1 > lastkey || RELEASED_ANY);
  lastkey = stage_of[i] * N + i + 1
}

/* ================= a lane: lane::serve ================= */
/* One job at a time, in queue order. A job is popped under the lane's lock (`running` = it), its
 * hook called, and, once it returns, its reference to the cause dropped before `running` is
 * cleared. A hook returns in the same step (by default), returns later (SLOW: `hung` until then),
 * or blocks for ever (`forever`: it stays `running`). Once the queue is empty and no hook is being
 * called the lane says so and notifies the runner (the lane's `core.notify()`, after its lock is
 * released: a step of its own with -DCONDVAR, see QUEUE_DONE), then parks until a job is pushed
 * (Lane::push) or it is closed (retire, close): then serve() returns. */
#ifdef FINE_LANES
#define LANE_MORE break   /* one job per step */
#else
#define LANE_MORE skip    /* the lane runs its queue in one step, up to a hook that does not return */
#endif
#ifndef BUG_FINISH_NO_WAIT
#define DROP_CAUSE(l) lholds[l] = 0
#else
#define DROP_CAUSE(l) skip            /* K2: the cause is dropped only after `running` is cleared */
#endif
/* the hook of `job` returns: the job drops its cause, then `running` is cleared */
#define HOOK_RETURNS(l) \
  if :: job < N -> iret[job] = 1; in_intr--; DROP_CAUSE(l) :: else -> skip fi; lrun[l] = NONE
#ifndef NOHANG
#define I_BLOCKS :: hung = 1; forever = 1; culprits++       /* an interrupt blocks for ever */
#else
#define I_BLOCKS
#endif
#ifdef SLOW
#define H_LATER :: hung = 1                                 /* the hook returns later */
#else
#define H_LATER
#endif
#if defined(CONDVAR) || defined(BUG_FINISH_NO_WAIT)
#define QUEUE_DONE break      /* then say idle (notify) in a step of its own */
#else
/* Without -DCONDVAR a notify is a no-op (the runner's wait is a guarded step), so saying idle is a
 * stutter step: the lane parks in the step that empties its queue. */
#define QUEUE_DONE goto park
#endif
/* one job: pop it (running = it), call its hook; then go on with the next, or stop */
#define LANE_JOB \
  q[l]?job; lrun[l] = job; \
  if \
  :: job < N -> CALL_INTERRUPT(job); in_intr++; lholds[l] = 1; \
     if :: HOOK_RETURNS(l) I_BLOCKS H_LATER fi \
  :: else -> assert(fcalls[job - N] == 0); fcalls[job - N]++; \
     if :: HOOK_RETURNS(l) H_LATER fi \
  fi; \
  if :: !hung -> job = 0 :: else -> skip fi; \
  if \
  :: hung -> break \
  :: !hung && empty(q[l]) -> QUEUE_DONE \
  :: !hung && nempty(q[l]) -> LANE_MORE \
  fi
proctype Lane(byte l) {
  byte job;
  bit hung, forever;
  /* parked on the lane's condvar until a job is pushed (Lane::push; the first jobs run in the
   * step that wakes it) or the lane is closed (retire, close: serve() returns) */
park:
  if
  :: atomic { !returned && nempty(q[l]) && (l != 0 || first_free) -> do :: LANE_JOB od }
  :: atomic { !returned && lclosed[l] && empty(q[l]) -> goto done }
  fi;
  do
  :: atomic { hung && !forever && !returned -> HOOK_RETURNS(l); hung = 0; job = 0 }   /* SLOW */
  :: atomic { !hung && !returned && nempty(q[l]) ->
       do
       :: LANE_JOB
       od }
#ifndef BUG_LANE_NO_NOTIFY
  :: atomic { !hung && !returned && empty(q[l]) -> lholds[l] = 0; lfin[l] = 1; SIGNAL; break }
#else
  :: atomic { !hung && !returned && empty(q[l]) -> lholds[l] = 0; lfin[l] = 1; break }  /* no notify */
#endif
  od;
  /* Idle: it said so, after releasing its lock (`lholds[l] = 0` there is a no-op but with
   * BUG_FINISH_NO_WAIT, where a job drops its cause only then); it parks again. */
  goto park;
done:
  skip
}

/* ================= an actor thread: actor_main ================= */
proctype Actor(byte i; byte st; bit oe) {
  byte r;
  /* execute: returns at any time, or (LIVE) only once interrupted or forced, or never */
  if
  :: !returned         /* (nothing moves once run has returned: it would not matter) */
#ifdef LIVE
  :: (icalls[i] > 0 || fcalls[i] > 0)
#endif
#if defined(LIVE) && !defined(NOHANG)
  :: culprits++; false          /* ignores its interrupt and its force hook */
#endif
  fi;
#ifndef EXIT
#define EXIT 3
#endif
#if EXIT == 1
  /* publish, compare-exchange and leave in one step */
  atomic { !returned;
    if :: r = R_OK :: r = R_ERR
#ifdef PANICS
       :: r = R_PANIC
#endif
    fi;
    slot[i] = r; exited[i] = 1; nexit[st]++;
    if
    :: oe && r == R_OK -> skip
    :: else -> if :: phase == RUNNING -> phase = TRIGGERED; who = i; wins++; assert(wins == 1); SIGNAL
               :: else -> skip fi
    fi;
    live[st]--; if :: live[st] == 0 -> SIGNAL :: else -> skip fi;
    r = 0
  }
#elif EXIT == 2
  /* publish and compare-exchange in one step, then leave */
  atomic { !returned;
    if :: r = R_OK :: r = R_ERR
#ifdef PANICS
       :: r = R_PANIC
#endif
    fi;
    slot[i] = r; exited[i] = 1; nexit[st]++;
    if
    :: oe && r == R_OK -> skip
    :: else -> if :: phase == RUNNING -> phase = TRIGGERED; who = i; wins++; assert(wins == 1); SIGNAL
               :: else -> skip fi
    fi;
    r = 0
  }
  atomic { !returned; live[st]--; if :: live[st] == 0 -> SIGNAL :: else -> skip fi }
#else
  /* catch_unwind(execute); publish the outcome in the slot */
  atomic { !returned;
    if :: r = R_OK :: r = R_ERR
#ifdef PANICS
       :: r = R_PANIC
#endif
    fi;
    slot[i] = r; exited[i] = 1; nexit[st]++
  }
  /* try_win: one compare-exchange RUNNING -> TRIGGERED|who; the winner notifies */
  if
  :: oe && r == R_OK -> r = 0
  :: else ->
#if defined(BUG_NO_CAS)
     if :: phase == RUNNING -> r = NONE :: else -> r = 0 fi;      /* seeded bug: load ... */
     atomic { if :: r == NONE -> phase = TRIGGERED; who = i; wins++; assert(wins == 1); SIGNAL
              :: else -> skip fi; r = 0 }                          /* ... then store */
#elif defined(BUG_NOTIFY_NOLOCK)
     atomic { !returned; if :: phase == RUNNING -> phase = TRIGGERED; who = i; wins++; assert(wins == 1); r = NONE
              :: else -> r = 0 fi };
     if :: r == NONE -> atomic { SIGNAL; r = 0 } :: else -> skip fi   /* notify without the lock */
#else
     atomic { !returned; if :: phase == RUNNING -> phase = TRIGGERED; who = i; wins++; assert(wins == 1); SIGNAL
              :: else -> skip fi; r = 0 }
#endif
  fi;
  /* LeaveGuard: leave the stage's live counter; the decrement that empties it notifies */
#ifdef BUG_NOTIFY_NOLOCK
  atomic { !returned; live[st]--; r = (live[st] == 0) };
  if :: r -> atomic { SIGNAL; r = 0 } :: else -> skip fi
#else
  atomic { !returned; live[st]--; if :: live[st] == 0 -> SIGNAL :: else -> skip fi }
#endif
#endif
  /* the first exit's thread is free now: it serves the hook lane (lane::serve(&core.first_lane))
   * until the runner closes it: Lane(0) may start */
#ifndef BUG_FIRST_NO_SERVE
  if :: who == i -> first_free = 1 :: else -> skip fi
#else
  skip                          /* seeded bug: the first exit's thread just ends */
#endif
}

/* ================= the outside world: stop handles ================= */
/* A request made while the state is RUNNING races with the actors' exits for the trigger. A
 * request made after the trigger only adds to Wake::escalations, which only the runner's checks
 * read: so such requests are folded into the wait (ARRIVE), up to STOPS requests in all. */
proctype Stopper() {
#if STOPS > 0
  if
  :: atomic { phase == RUNNING -> REQUEST(1); esc_left-- }
#ifdef LIVE
  :: skip
#endif
  fi
#else
  skip
#endif
}

/* ================= the caller's thread: Runner::wait ================= */

/* Time: the runner is the only reader of the clock, so time passing is a choice made at its
 * clock reads. dl_g/dl_b/dl_k say which deadlines bound the current wait. */
#define EXP ((dl_g && grace_fired[stage_cur]) || (dl_b && budget_fired) || (dl_k && kill_fired[stage_cur]))
/* a clock read: time may have passed any deadline of the current wait */
#define TICK \
  if \
  :: dl_g && !grace_fired[stage_cur] -> grace_fired[stage_cur] = 1 \
  :: dl_b && !budget_fired -> budget_fired = 1 \
  :: dl_k && !kill_fired[stage_cur] -> kill_fired[stage_cur] = 1 \
  :: true -> skip \
  fi
/* wait_timeout returned: a deadline of the current wait has passed */
#define TIMEOUT \
  if \
  :: dl_g && !grace_fired[stage_cur] -> grace_fired[stage_cur] = 1 \
  :: dl_b && !budget_fired -> budget_fired = 1 \
  :: dl_k && !kill_fired[stage_cur] -> kill_fired[stage_cur] = 1 \
  fi
/* `now` is read (the planner's budget_spent(now)): the budget may have passed since */
#define TICK_BUDGET if :: budget_armed && !budget_fired -> budget_fired = 1 :: true -> skip fi

/* in the step that ends a teardown wait: 0 nothing (the trigger wait), 1 a teardown wait ended */
#define POST(k) \
  if \
  :: k == 1 -> dl_g = 0; dl_b = 0; dl_k = 0; \
     if :: wuntil == U_KILLED && w == W_EXP -> gave_up = 1 :: else -> skip fi \
  :: else -> skip \
  fi

#ifdef CONDVAR
/* Runner::wait with its mutex and condvar: under the lock check done, then escalations, then
 * the deadline; else park releasing the lock; wake on notify_one or on wait_timeout. */
#define W_CHECK(DONE) \
  if \
  :: (DONE) -> w = W_DONE \
  :: else -> \
     ARRIVE \
     if \
     :: escalations > seen -> seen = escalations; w = W_ESC \
     :: else -> TICK; if :: EXP -> w = W_EXP :: else -> w = W_NONE fi \
     fi \
  fi
#ifdef BUG_NOTIFY_NOLOCK
/* the lock is held from the check to the park: the window a lock-less notify falls into */
inline WAIT(CODE, DONE, PK) {
  atomic { !wl -> wl = 1; wcode = CODE; W_CHECK(DONE) };
  do
  :: atomic { w != W_NONE -> wl = 0; wcode = 0; POST(PK); break }
  :: else ->
     atomic { waiting = 1; wl = 0 };
     if
     :: atomic { signalled && !wl -> wl = 1; waiting = 0; signalled = 0; W_CHECK(DONE) }
     :: atomic { !signalled && !wl && (dl_g || dl_b || dl_k) -> wl = 1; waiting = 0; TIMEOUT; W_CHECK(DONE) }
     fi
  od
}
#else
/* every critical section of the wake lock is one atomic step: check, and park releasing it */
inline WAIT(CODE, DONE, PK) {
  atomic { wcode = CODE; W_CHECK(DONE); if :: w == W_NONE -> waiting = 1 :: else -> wcode = 0; POST(PK) fi };
  do
  :: w != W_NONE -> break
  :: atomic { w == W_NONE && signalled -> waiting = 0; signalled = 0; W_CHECK(DONE);
              if :: w == W_NONE -> waiting = 1 :: else -> wcode = 0; POST(PK) fi }
  :: atomic { w == W_NONE && !signalled && (dl_g || dl_b || dl_k) -> waiting = 0; TIMEOUT; W_CHECK(DONE);
              if :: w == W_NONE -> waiting = 1 :: else -> wcode = 0; POST(PK) fi }
  od
}
#endif
#else
/* Default: the wait is one guarded step, enabled once the condition holds, a stop request is
 * pending (or arrives), or a deadline of the wait passes; its branches keep Runner::wait's
 * order (done, then escalations, then the deadline). That the mutex/condvar protocol really
 * behaves so (no lost wake-up) is checked separately with -DCONDVAR. */
#if STOPS > 0
#define ESC_READY (escalations > seen || (esc_left > 0 && phase != RUNNING))
#define TAKE_ESC if :: escalations <= seen -> escalations++; esc_left-- :: else -> skip fi;
#else
#define ESC_READY (escalations > seen)
#define TAKE_ESC
#endif
inline WAIT(CODE, DONE, PK) {
  atomic {
    wcode = CODE;
    if
    :: (DONE) -> w = W_DONE
    :: !(DONE) && ESC_READY -> TAKE_ESC seen = escalations; w = W_ESC
    :: !(DONE) && escalations <= seen && dl_g -> grace_fired[stage_cur] = 1; w = W_EXP
    :: !(DONE) && escalations <= seen && dl_b -> budget_fired = 1; w = W_EXP
    :: !(DONE) && escalations <= seen && dl_k -> kill_fired[stage_cur] = 1; w = W_EXP
    fi;
    wcode = 0;
    POST(PK) }
}
#endif

/* the done-conditions (also read by the watchdog) */
#define ALL_DONE (live[0] == 0 && live[1] == 0)
#define C_FIRST (phase != RUNNING || ALL_DONE)
/* Lane::is_idle, under the lane's lock: no hook being called, none queued */
#define IDLE(l) (lrun[l] == NONE && len(q[l]) == 0)
/* Until::Drained(stage): the stage's actors have left and the hook lane (if any) is idle */
#define C_DRAINED (live[stage_cur] == 0 && (hl == NONE || IDLE(hl)))
#ifndef BUG_NO_LANE_WAIT
/* Until::Killed(stage): the stage's actors have left and every watched lane is idle */
#define W_IDLE(l) ((watched & (1 << l)) == 0 || IDLE(l))
#define C_KILLED (live[stage_cur] == 0 && W_IDLE(0) && W_IDLE(1) && W_IDLE(2) && W_IDLE(3) \
                  && W_IDLE(4) && W_IDLE(5))
#else
#define C_KILLED (live[stage_cur] == 0)          /* K3: the actors only */
#endif
#ifdef BUG_STAGE_SKIP
#define C_UNTIL ((wuntil == U_DRAINED) || (wuntil == U_KILLED && C_KILLED))  /* no wait for a stage */
#else
#define C_UNTIL ((wuntil == U_DRAINED && C_DRAINED) || (wuntil == U_KILLED && C_KILLED))
#endif

/* ================= the planner: src/plan.rs ================= */
#ifdef BUG_ESCALATE_AT_ONCE
inline P_BEGIN2() {
  if
  :: pk == S -> pstep = P_DONE; acts!A_DONE,0,0
  :: else ->
     acts!A_BEGIN,pk,0;
     if :: !pesc && budget_fired -> pesc = 1; pesc_b = 1 :: else -> skip fi;
     if
     :: pesc -> acts!A_ESC,pk,0; pstep = P_KILL; pstage = pk;
        kmask = (bounded -> D_KILL : 0); acts!A_WAIT,pk,(U_KILLED * 8 + kmask)
     :: else ->
        pstep = P_DRAIN; pstage = pk;
        acts!A_WAIT,pk,(U_DRAINED * 8 + (has_grace[pk] -> D_GRACE : 0) + (has_budget -> D_BUDGET : 0))
     fi
  fi
}
#endif
/* Plan::escalate(pk, cap, overdue, expired): Escalate, then Plan::kill_wait */
inline P_ESCALATE(CAP, OVERDUE, EXPIRED) {
  acts!A_ESC,pk,OVERDUE;
  pstep = P_KILL; pstage = pk;
  kmask = (bounded -> D_KILL : 0) + ((CAP && has_budget) -> D_BUDGET : 0);
#ifndef BUG_ESCALATE_AT_ONCE
  acts!A_WAIT,pk,(U_KILLED * 8 + kmask)
#else
  /* seeded bug (the first model's final escalation): no kill grace for this stage, the next
   * stage begins at once */
  acts!A_END,pk,1; pk++; P_BEGIN2()
#endif
}
/* Plan::begin_stage(pk, now). pk: a local of the runner. */
inline P_BEGIN() {
  if
  :: pk == S -> pstep = P_DONE; acts!A_DONE,0,0
  :: else ->
     acts!A_BEGIN,pk,0;
     if :: !pesc && budget_fired -> pesc = 1; pesc_b = 1 :: else -> skip fi;
     if
     :: pesc -> P_ESCALATE(0, 0, pesc_b)           /* no grace: escalate at once */
     :: else ->
        pstep = P_DRAIN; pstage = pk;
        acts!A_WAIT,pk,(U_DRAINED * 8 + (has_grace[pk] -> D_GRACE : 0) + (has_budget -> D_BUDGET : 0))
     fi
  fi
}
/* Plan::end_stage(pk): EndStage, then begin_stage(pk + 1) */
inline P_END(ESCALATION) {
  acts!A_END,pk,ESCALATION; pk++; P_BEGIN()
}
#ifdef BUG_STOP_FREES_QUEUE
#define STOP_OVERDUE 1  /* seeded bug: a second stop request frees the lane's queue */
#else
#define STOP_OVERDUE 0  /* a second stop escalates, but no deadline passed: not overdue (S04) */
#endif
/* Plan::on(event, now) */
inline P_ON(EV) {
  pk = pstage;
  if
  :: pstep == P_DRAIN ->
     if
     :: EV == W_DONE -> P_END(0)
     :: EV == W_ESC -> pesc = 1; pesc_b = 0; P_ESCALATE(0, STOP_OVERDUE, 0)
     :: EV == W_EXP && budget_fired -> pesc = 1; pesc_b = 1; P_ESCALATE(0, 1, 1)
     :: EV == W_EXP && !budget_fired -> P_ESCALATE(1, 1, 1)    /* this stage's grace: capped */
     fi
  :: pstep == P_KILL ->
     if
     :: EV == W_ESC ->                                         /* the kill grace goes on */
        if :: !pesc -> pesc = 1; pesc_b = 0 :: else -> skip fi;
        acts!A_WAIT,pk,(U_KILLED * 8 + kmask)
     :: else -> P_END(1)
     fi
  fi
}

/* ================= the runner carries out the planner's actions ================= */
/* Runner::send: carried jobs first, then `jobs`, behind whatever the hook lane has queued; a
 * fresh hook lane (spawn_lane) if it was retired */
inline SEND() {
  if
  :: len(carry) + len(jobs) == 0 -> skip
  :: else ->
     if
     :: hl == NONE -> assert(nl < MAXL); hl = nl; nl++; l = 1     /* Lane::spawn */
     :: else -> l = 0
     fi;
     do :: nempty(carry) -> carry?j; q[hl]!j :: empty(carry) -> break od;
     do :: nempty(jobs) -> jobs?j; q[hl]!j :: empty(jobs) -> break od;
     l = 0; j = 0
  fi
}
/* Runner::interrupts_of(stage): the interrupts of the stage not yet handed out */
inline INTERRUPTS_OF(K) {
  i = 0;
  do
  :: i < N ->
#ifndef BUG_DOUBLE_INTERRUPT
     if :: stage_of[i] == K && !taken[i] -> taken[i] = 1; jobs!i :: else -> skip fi;
#else
     /* seeded bug: the stage's interrupts are handed out whether or not taken already */
     if :: stage_of[i] == K -> taken[i] = 1; jobs!i :: else -> skip fi;
#endif
     i++
  :: else -> i = 0; break
  od
}
/* Action::BeginStage: hand the stage's interrupts to the hook lane */
inline DO_BEGIN(K) {
  INTERRUPTS_OF(K); SEND()
}
/* Runner::escalate(stage, overdue) */
inline DO_ESCALATE(K, OVERDUE) {
  watched = 0;
  if :: hl != NONE -> watched = (1 << hl) :: else -> skip fi;
  /* unblock: if overdue and the hook lane is inside a hook, retire it: its queue moves to a
   * fresh lane, it finishes its hook alone */
  if
  :: OVERDUE && hl != NONE && lrun[hl] != NONE ->
     lclosed[hl] = 1;
     do :: nempty(q[hl]) -> q[hl]?j; jobs!j :: empty(q[hl]) -> break od;
     hl = NONE; SEND()
  :: else -> skip
  fi;
  INTERRUPTS_OF(K); SEND();
  if :: hl != NONE -> watched = watched | (1 << hl) :: else -> skip fi;
  /* the force hooks of the stage's actors still running, on a lane of their own */
  fl = NONE;
  do
  :: i < N ->
     if
     :: stage_of[i] == K && !HAS_EXITED(i) ->
        assert(!exited[i]);       /* S05 (K1): only actors still running are escalated */
        escalated[i] = 1;
        if :: fl == NONE -> assert(nl < MAXL); fl = nl; nl++ :: else -> skip fi;
        q[fl]!(N + i)
     :: else -> skip
     fi;
     i++
  :: else -> i = 0; break
  od;
  if :: fl != NONE -> watched = watched | (1 << fl); fl = 0 :: else -> fl = 0 fi
}
/* Runner::end_stage: after an escalation, a hook lane stuck in a hook is retired and its queued
 * jobs are carried to the next stage's lane (or skipped if no stage is left) */
inline DO_END(ESCALATION) {
  if
  :: ESCALATION ->
     if
     :: hl != NONE && lrun[hl] != NONE ->
        lclosed[hl] = 1;
        do :: nempty(q[hl]) -> q[hl]?j; carry!j :: empty(q[hl]) -> break od;
        hl = NONE; j = 0
     :: else -> skip
     fi;
     watched = 0
  :: else -> skip
  fi
}
/* Runner::teardown: one batch of actions, up to and including the Wait or Done */
inline RUN_BATCH() {
  do
  :: acts?act,k,a ->
     if
     :: act == A_BEGIN -> DO_BEGIN(k)
     :: act == A_ESC -> DO_ESCALATE(k, a)
     :: act == A_END -> DO_END(a)
     :: act == A_WAIT ->
        wuntil = a / 8; stage_cur = k;
        dl_g = (a & D_GRACE) != 0; dl_b = (a & D_BUDGET) != 0; dl_k = (a & D_KILL) != 0;
        act = 0; k = 0; a = 0; break
     :: act == A_DONE -> wuntil = U_NONE; act = 0; k = 0; a = 0; break
     fi
  od;
  assert(len(acts) == 0)
}

proctype Runner() {
  byte w, i, j, k, l, a, act, pk, fl, winner = NONE, wres, wout;
  bit blocked_any, retained, panicked;

  /* wait for the trigger, or for every actor to have left without one */
  WAIT(1, C_FIRST, 0);
  atomic {
    if :: phase == RUNNING -> REQUEST(0) :: else -> skip fi;   /* AllExited: never escalates */
    budget_armed = has_budget;                     /* triggered_at: the budget starts */
    /* resolve_cause */
    assert(wins == 1 && phase == TRIGGERED);       /* exactly one first exit (R03, T01) */
    if
    :: who == EXT -> assert(external)
    :: else ->
       winner = who; wres = slot[who];
       assert(wres != EMPTY);                      /* the winner published before its CAS */
       assert(!(onerror[who] && wres == R_OK));    /* S07: a clean on-error exit never triggers */
       slot[who] = EMPTY                           /* .take(): the value travels in the cause */
    fi;
    /* host_first_lane: the first exit's thread serves lane 0 (Actor); a request from outside
     * starts a thread for it */
    if :: who == EXT -> first_free = 1 :: else -> skip fi;
    /* teardown: Plan::start (no lame duck), then the first batch */
    TICK_BUDGET;
    d_step { pk = 0; P_BEGIN(); pk = 0; RUN_BATCH() } }

  do
  :: wuntil == U_NONE -> break
  :: else ->
     WAIT(2, C_UNTIL, 1);
     atomic { TICK_BUDGET; d_step { P_ON(w); w = 0; pk = 0; RUN_BATCH() } }   /* now; plan.on(event, now) */
  od;

  /* finish, and the properties of the returned run (one step) */
  skip;
  d_step {
    /* carried interrupts never called: Skipped */
    do :: nempty(carry) -> carry?j; rep_skipped[j] = 1 :: empty(carry) -> j = 0; break od;
    /* close_lanes: every lane, in one look under its lock */
    l = 0;
    do
    :: l < nl ->
       lclosed[l] = 1;
       if
       :: lrun[l] != NONE -> blocked_any = 1;
          if :: lrun[l] < N -> rep_blocked[lrun[l]] = 1 :: else -> force_unfinished = 1 fi
       :: else -> skip
       fi;
       do
       :: nempty(q[l]) -> q[l]?j;
          if :: j < N -> rep_skipped[j] = 1 :: else -> force_unfinished = 1 fi
       :: empty(q[l]) -> j = 0; break
       od;
       l++
    :: else -> l = 0; break
    od;
    /* Arc::try_unwrap(cause) fails while a job still holds the cause */
    do :: l < MAXL -> retained = retained || lholds[l]; l++ :: else -> l = 0; break od;
    /* every actor's fate: a slot still empty means abandoned */
    i = 0;
    do
    :: i < N ->
       if
       :: i == winner ->
          if :: wres == R_PANIC -> wout = R_PANIC           /* the payload is kept aside */
             :: wres == R_ERR && retained -> wout = RETAINED   /* an Ok has no value to keep */
             :: else -> wout = wres fi
       :: i != winner && slot[i] != EMPTY -> if :: slot[i] == R_PANIC -> panicked = 1 :: else -> skip fi
       :: else -> abandoned[i] = 1; assert(!exited[i]); blocked_any = 1
       fi;
       i++
    :: else -> i = 0; break
    od;
    /* Report::error, then into_result. An interrupt never called (skipped: a lane's thread had
     * not taken its queue when the last deadline ran out) is Error::Abandoned too, as in src/
     * (P11); BUG_SKIPPED_OK is the runner before that fix, which called it a success. */
    k = 0;
#ifndef BUG_SKIPPED_OK
    do :: i < N -> k = k || rep_skipped[i]; i++ :: else -> i = 0; break od;
#endif
    if
    :: blocked_any || k -> result = RES_FAIL           /* Error::Abandoned */
    :: else ->
       if
       :: wout == R_PANIC || panicked -> result = RES_PANIC
       :: else ->
          if
          :: winner != NONE && wout == R_ERR -> result = RES_ERR
          :: else ->
             /* Error::Escalated: some actor was escalated */
             k = 0;
             do :: i < N -> k = k || escalated[i]; i++ :: else -> i = 0; break od;
             if :: k -> result = RES_ESC :: else -> result = RES_OK fi;
             k = 0
          fi
       fi
    fi;
    k = 0;

    /* ------- properties of the returned run ------- */
    do
    :: i < N ->
       /* R08: every execute returned, or was abandoned */
       assert(exited[i] || abandoned[i]);
       /* S06: abandoned only after being escalated and a kill grace (or the budget) ran out */
       assert(!abandoned[i] || (escalated[i] && gave_up));
       /* R04: every interrupt was handed out; called once and returned, or reported blocked or
        * skipped (only with deadlines) */
       assert(taken[i]);
       assert(rep_blocked[i] || rep_skipped[i] || (icalls[i] == 1 && iret[i]));
       assert(!(rep_blocked[i] || rep_skipped[i]) || bounded);
       assert(!rep_skipped[i] || icalls[i] == 0);
       assert(icalls[i] <= 1 && fcalls[i] <= 1);
       /* S06 (K3): a hook is reported blocked or skipped only when run gave up waiting for it */
       assert(!(rep_blocked[i] || rep_skipped[i]) || gave_up);
       i++
    :: else -> i = 0; break
    od;
    assert(!force_unfinished || gave_up);
    /* S06: abandonment or a blocked hook is never reported as success */
    assert(!blocked_any || result == RES_FAIL);
    /* R09: a first exit that failed is never reported as success (K2) */
    assert(!(winner != NONE && wres != R_OK && result == RES_OK));
    /* R09: an Err result is the first exit's own */
    assert(result != RES_ERR || (winner != NONE && wres == R_ERR));
    /* P11: an interrupt skipped (never called) is never reported as success */
    do :: i < N -> assert(!rep_skipped[i] || result != RES_OK); i++ :: else -> i = 0; break od;
#ifdef WITNESS
    assert(!(WITNESS_COND));                       /* reachability: expected to fail */
#endif
    phase = FINISHED;                              /* control.finish() */
    returned = 1
  }
}

/* ================= the watchdog: no lost wake-up, no hang with a budget ================= */
#define CUR_DONE ((wcode == 1 && C_FIRST) || (wcode == 2 && C_UNTIL))
proctype Watchdog() {
  timeout ->
    /* nothing can move: the runner is not parked on a condition that already holds */
    assert(!(waiting && (CUR_DONE || escalations > seen)));
    /* stuck only before any trigger, or (F04) with no budget and a hook that blocks or an
     * execute that ignores its interrupt */
    assert(returned || phase == RUNNING || (!has_budget && culprits > 0))
}

/* ================= configurations, then start ================= */
init {
  byte i, k, prev;
  atomic {
    /* deadlines: BUDGET, GRACE0, GRACE1 = 0 (off), 1 (on) or 2 (either: chosen here) */
#if BUDGET == 2
    if :: has_budget = 1 :: skip fi;
#else
    has_budget = BUDGET;
#endif
#if GRACE0 == 2
    if :: has_grace[0] = 1 :: skip fi;
#else
    has_grace[0] = GRACE0;
#endif
#if GRACE1 == 2
    if :: has_grace[1] = 1 :: skip fi;
#else
    has_grace[1] = GRACE1;
#endif
    bounded = has_budget || has_grace[0] || has_grace[1];
    /* per actor: stage and policy, as a sorted multiset (registration order is stage-major) */
    do
    :: i < N ->
       if :: k = 0 :: k = 1 :: k = 2 :: k = 3 fi;      /* k = stage * 2 + onerror */
       k >= prev;
       prev = k;
       stage_of[i] = k / 2; onerror[i] = k % 2;
       nsize[k / 2]++; live[k / 2]++;
       i++
    :: else -> i = 0; break
    od;
    do :: i < MAXL -> lrun[i] = NONE; i++ :: else -> i = 0; break od;
    do :: i < N -> run Actor(i, stage_of[i], onerror[i]); i++ :: else -> break od;
    run Runner();
    /* the lanes' threads, parked until they get jobs (lane 0: also until it has a thread) */
    i = 0;
    do :: i < MAXL -> run Lane(i); i++ :: else -> i = 0; break od;
#if STOPS > 0
    run Stopper();
#endif
    run Watchdog()
  }
}

#ifdef LIVE
/* S08, F04: once triggered, run returns, unless no budget is set and a hook blocks or an
 * execute ignores its interrupt */
ltl terminates { [] ((phase != RUNNING) -> <> (returned || (!has_budget && culprits > 0))) }
#endif
