/*
 * rungroup.pml: a Promela model of rungroup's run/teardown protocol, checked with Spin.
 *
 * It follows src/state.rs (state word, per-stage live counters, wake mutex + condvar),
 * src/runner.rs (actor_main, lanes, Runner::wait/teardown/escalate/final_escalation/finish) and
 * src/stop.rs (stop requests) at the level of shared variables and atomic steps. Time is
 * nondeterminism at the runner's clock reads; payloads are the three result kinds; threads are
 * processes. docs/model/README.md maps every variable to the Rust code; docs/model/check.sh runs it.
 *
 * Compile-time knobs (spin -D...):
 *   N=2..5        number of actors (default 3); there are S=2 stages.
 *   STOPS=k       stop requests the outside world may make (default 2: trigger + escalate).
 *   BUDGET=b GRACE0=g GRACE1=g   deadlines: 0 off, 1 on, 2 either (default; chosen in init).
 *                 All 0 is the oklog/run case: interrupts inline, no lanes.
 *   EXIT=3|2|1    steps of an actor's exit: 3 publish / compare-exchange / leave (default);
 *                 2 publish+compare-exchange / leave; 1 all at once (for large N).
 *   PANICS        an execute may also panic (by default Ok or Err: protocol-wise a panic is an
 *                 Err; it differs only in what into_result does with it).
 *   NOHANG        no hook blocks forever and every execute eventually returns.
 *   LIVE          liveness run (spin -a, pan -a -f): adds actors that wait for their interrupt,
 *                 lets the stop requester quit, and the `terminates` LTL property.
 *   Seeded bugs: BUG_NO_CAS, BUG_STAGE_SKIP, BUG_NOTIFY_NOLOCK, BUG_LANE_NO_NOTIFY (a lane says
 *   finished without notifying the runner), BUG_DOUBLE_INTERRUPT, and the
 *   three defects this model found in src/ (fixed there; README "Found in src/"):
 *   BUG_FORCE_WINNER (K1), BUG_FINISH_NO_WAIT (K2), BUG_NO_LANE_WAIT (K3).
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

#define MAXL 6          /* lanes: one per stage (0, 1), then two per escalate() call (2..5) */
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

/* Runner::wait outcomes; W_NONE: keep waiting */
#define W_NONE 0
#define W_DONE 1
#define W_EXP  2
#define W_ESC  3

/* what run() returns (Report::into_result) */
#define RES_NONE  0
#define RES_OK    1
#define RES_ERR   2     /* the first exit's Err */
#define RES_PANIC 3     /* a panic resumed on the caller */
#define RES_FAIL  4     /* a run error (Error::Abandoned) */

/* ---------------- configuration, chosen in init ---------------- */
bit  has_budget;
bit  has_grace[S];
bit  lanes_mode;                /* Runner::lanes_mode */
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
bit budget_armed, budget_fired; /* Runner::budget_deadline = triggered_at + budget; now >= it */
bit grace_fired[S];             /* now >= stage begin + grace */
bit kill_fired;                 /* now >= escalate's now + kill_grace (per escalate call) */
bit dl_g, dl_b, dl_k;           /* which deadlines bound the current wait */

/* ---------------- lanes ---------------- */
chan q[MAXL] = [2 * N] of { byte };  /* LaneState::queue; j < N: interrupt of j, else force of j-N */
byte lrun[MAXL];                /* LaneState::running (only a blocked hook stays there) */
bit  ldisp[MAXL];               /* dispatched: in Runner::lanes */
bit  lfin[MAXL];                /* LaneState::finished */
bit  lholds[MAXL];              /* the lane still holds its Arc<Cause> */

/* ---------------- the runner's entries ---------------- */
bit taken[N];                   /* Entry::interrupt was taken */
bit escalated[N];               /* Entry::escalated */

/* ---------------- ghosts: what really happened ---------------- */
byte wins;                      /* successful RUNNING -> TRIGGERED transitions */
bit  exited[N];                 /* the execute returned (and published its outcome) */
byte nexit[S];
byte icalls[N];                 /* calls of each interrupt */
bit  iret[N];                   /* the interrupt returned */
byte fcalls[N];                 /* calls of each force hook */
byte in_intr;                   /* interrupts running (blocked ones stay) */
byte lastkey;                   /* (stage, index) of the last interrupt called: R05 order */
byte culprits;                  /* hooks blocked forever + executes that ignore everything */
bit  gave_up;                   /* an escalation wait ended with its range not drained */
bit  returned;                  /* run() has returned */
byte wcode;                     /* which wait the runner is parked in (watchdog) */
byte stage_cur, esc_from, esc_to, esc_lane;
bit  rep_blocked[N];            /* report: HookOutcome::Blocked */
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
#endif
#endif

/* a deadline expired or teardown escalated: S04 allows interrupts out of order / concurrently */
#define RELEASED_ANY (grace_fired[0] || grace_fired[1] || budget_fired || escalations > 0)
/* S01: every actor of the stages before s has exited, or stage 0's deadline expired, or the
 * budget ran out, or a second stop request escalated (S = 2) */
#define RELEASED_BEFORE(s) ((s) == 0 || nexit[0] == nsize[0] || grace_fired[0] || budget_fired || escalations > 0)

#ifndef BUG_FORCE_WINNER
/* Runner::has_exited: the slot is filled, or it is the first exit (whose slot was taken) */
#define HAS_EXITED(i) (slot[i] != EMPTY || i == winner)
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
 * registration order) unless a deadline expired or teardown escalated (S04). */
inline CALL_INTERRUPT(i) {
#ifndef BUG_DOUBLE_INTERRUPT
  assert(icalls[i] == 0);
#endif
  icalls[i]++;
  assert(icalls[i] <= 1);
  assert(RELEASED_BEFORE(stage_of[i]));
  assert(in_intr == 0 || RELEASED_ANY);
  assert(stage_of[i] * N + i + 1 > lastkey || RELEASED_ANY);
  lastkey = stage_of[i] * N + i + 1
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
}

/* ================= a lane: lane_main ================= */
/* A hook either returns (one step: pop, call, record in `done`) or blocks forever (stays
 * `running`). When the queue is empty the lane drops its cause, says finished, notifies. */
#ifdef FINE_LANES
#define LANE_MORE break   /* one job per step */
#else
#define LANE_MORE skip    /* the lane runs its queue in one step, up to a hook that blocks */
#endif
proctype Lane(byte l) {
  byte job;
  bit hung;
  do
  :: atomic { !hung && !returned && nempty(q[l]) ->
       do
       :: q[l]?job;
          if
          :: job < N -> CALL_INTERRUPT(job);
             if
             :: iret[job] = 1
#ifndef NOHANG
             :: in_intr++; culprits++; lrun[l] = job; hung = 1   /* a blocking interrupt */
#endif
             fi
          :: else -> assert(fcalls[job - N] == 0); fcalls[job - N]++
          fi;
          job = 0;
          if
          :: hung -> break
          :: !hung && empty(q[l]) -> break
          :: !hung && nempty(q[l]) -> LANE_MORE
          fi
       od }
#ifndef BUG_LANE_NO_NOTIFY
  :: atomic { !hung && !returned && empty(q[l]) -> lholds[l] = 0; lfin[l] = 1; SIGNAL; break }
#else
  :: atomic { !hung && !returned && empty(q[l]) -> lholds[l] = 0; lfin[l] = 1; break }  /* no notify */
#endif
  od
}

/* ================= the outside world: stop handles ================= */
/* A request made while the state is RUNNING races with the actors' exits for the trigger. A
 * request made after the trigger only adds to Wake::escalations, which only the runner's checks
 * read: so such requests are folded into W_CHECK (ARRIVE), up to STOPS requests in all. */
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

/* ================= the caller's thread: runner.rs run() ================= */

/* Time: the runner is the only reader of the clock, so time passing is a choice made at its
 * clock reads. dl_g/dl_b/dl_k say which deadlines bound the current wait. */
#define EXP ((dl_g && grace_fired[stage_cur]) || (dl_b && budget_fired) || (dl_k && kill_fired))
/* a clock read: time may have passed any deadline of the current wait */
#define TICK \
  if \
  :: dl_g && !grace_fired[stage_cur] -> grace_fired[stage_cur] = 1 \
  :: dl_b && !budget_fired -> budget_fired = 1 \
  :: dl_k && !kill_fired -> kill_fired = 1 \
  :: true -> skip \
  fi
/* wait_timeout returned: a deadline of the current wait has passed */
#define TIMEOUT \
  if \
  :: dl_g && !grace_fired[stage_cur] -> grace_fired[stage_cur] = 1 \
  :: dl_b && !budget_fired -> budget_fired = 1 \
  :: dl_k && !kill_fired -> kill_fired = 1 \
  fi
/* budget_spent(): the budget may have passed since the last read */
#define TICK_BUDGET if :: budget_armed && !budget_fired -> budget_fired = 1 :: true -> skip fi

/* what the runner does in the same step as a wait's end: 0 nothing, 1 end of a stage wait,
 * 2 end of a stage's escalation, 3 end of the final escalation */
#define ESC_POST dl_b = 0; dl_k = 0; kill_fired = 0; if :: w != W_DONE -> gave_up = 1 :: else -> skip fi
#define POST(k) \
  if \
  :: k == 1 -> dl_g = 0; dl_b = 0; if :: w == W_DONE -> st++ :: else -> skip fi \
  :: k == 2 -> ESC_POST; if :: w == W_ESC -> spent = 1 :: else -> skip fi; st++ \
  :: k == 3 -> ESC_POST \
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
    if
    :: (DONE) -> w = W_DONE
    :: !(DONE) && ESC_READY -> TAKE_ESC seen = escalations; w = W_ESC
    :: !(DONE) && escalations <= seen && dl_g -> grace_fired[stage_cur] = 1; w = W_EXP
    :: !(DONE) && escalations <= seen && dl_b -> budget_fired = 1; w = W_EXP
    :: !(DONE) && escalations <= seen && dl_k -> kill_fired = 1; w = W_EXP
    fi;
    POST(PK) }
}
#endif

/* the done-conditions (also read by the watchdog) */
#define ALL_DONE (live[0] == 0 && live[1] == 0)
#define C_FIRST (phase != RUNNING || ALL_DONE)
#define C_STAGE_LANES (live[stage_cur] == 0 && (!ldisp[stage_cur] || lfin[stage_cur]))
#define C_STAGE_INLINE (live[stage_cur] == 0)
#define RANGE_DRAINED ((esc_from > 0 || live[0] == 0) && (esc_to < 2 || live[1] == 0))
#ifndef BUG_NO_LANE_WAIT
/* the kill-grace wait also waits for the lanes that carry this range's hooks (`dispatched`) */
#define LANE_DONE(l) (!ldisp[l] || lfin[l])
#define C_ESCALATE (RANGE_DRAINED && LANE_DONE(esc_lane) && LANE_DONE(esc_lane + 1) \
                    && (esc_from > 0 || LANE_DONE(0)) && (esc_to < 2 || LANE_DONE(1)))
#else
#define C_ESCALATE RANGE_DRAINED                  /* K3: the actors only */
#endif
/* finish judges a lane once it is settled: finished, or still calling or holding hooks. A lane
 * with no hook left is only dropping its cause; finish waits for it (K2 without the wait). */
#define SETTLED(l) (!ldisp[l] || lfin[l] || lrun[l] != NONE || nempty(q[l]))
#ifndef BUG_FINISH_NO_WAIT
#define ALL_SETTLED (SETTLED(0) && SETTLED(1) && SETTLED(2) && SETTLED(3) && SETTLED(4) && SETTLED(5))
#else
#define ALL_SETTLED true
#endif

/* an interrupt called on the caller's thread returns, or blocks run for ever (F04) */
#ifdef NOHANG
#define INLINE_RESULT(i) iret[i] = 1
#else
#define INLINE_RESULT(i) if :: iret[i] = 1 :: culprits++; hung = 1 fi
#endif

/* Runner::escalate(FROM..TO, cap), first half (one step): the queued hooks of every lane move
 * to a fresh lane, the range's untaken interrupts follow, the force hooks of the range's actors
 * that have not exited go to another lane; the lanes start; the kill grace starts. */
inline ESCALATE_BEGIN(FROM, TO, CAP) {
  esc_from = FROM; esc_to = TO; esc_lane = S + 2 * e;
  l = 0;
  do
  :: l < MAXL && l != esc_lane -> do :: nempty(q[l]) -> q[l]?j; q[esc_lane]!j :: empty(q[l]) -> break od; l++
  :: l == esc_lane -> l++
  :: else -> l = 0; break
  od;
  i = 0;
  do
  :: i < N ->
     if
     :: stage_of[i] >= esc_from && stage_of[i] < esc_to ->
        if :: !taken[i] -> taken[i] = 1; q[esc_lane]!i :: else -> skip fi;
        if
        :: HAS_EXITED(i) -> skip
        :: else ->
           assert(!exited[i]);     /* S05 (K1): only actors still running are escalated */
           escalated[i] = 1; q[esc_lane + 1]!(N + i)
        fi
     :: else -> skip
     fi;
     i++
  :: else -> i = 0; j = 0; break
  od;
  if
  :: lm ->
     if :: nempty(q[esc_lane]) -> ldisp[esc_lane] = 1; lholds[esc_lane] = 1; run Lane(esc_lane)
        :: empty(q[esc_lane]) -> skip fi;
     if :: nempty(q[esc_lane + 1]) -> ldisp[esc_lane + 1] = 1; lholds[esc_lane + 1] = 1; run Lane(esc_lane + 1)
        :: empty(q[esc_lane + 1]) -> skip fi
  :: else -> skip
  fi;
  e++; kill_fired = 0; dl_g = 0; dl_b = CAP && budget_armed; dl_k = 1
}

/* second half: without lanes the hooks run here; then wait for the range to drain, up to the
 * kill grace (capped by the budget when CAP) */
inline ESCALATE_REST(PK) {
  if
  :: !lm ->
     do
     :: atomic { !hung && nempty(q[esc_lane]) -> q[esc_lane]?j; CALL_INTERRUPT(j); INLINE_RESULT(j); j = 0 }
     :: atomic { !hung && empty(q[esc_lane]) ->
          do
          :: nempty(q[esc_lane + 1]) -> q[esc_lane + 1]?j; assert(fcalls[j - N] == 0); fcalls[j - N]++
          :: empty(q[esc_lane + 1]) -> j = 0; break
          od;
          break }
     od
  :: else -> skip
  fi;
  WAIT(4, C_ESCALATE, PK)
}


proctype Runner() {
  byte w, st, e, i, j, l, winner = NONE, wres, wout;
  bit lm, spent, blocked_any, retained, panicked, hung;

  /* wait for the trigger, or for every actor to have left without one */
  WAIT(1, C_FIRST, 0);
  atomic {
    if :: phase == RUNNING -> REQUEST(0) :: else -> skip fi;   /* AllExited: never escalates */
    lm = lanes_mode;
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
    fi }

  /* teardown: stage by stage */
  do
  :: atomic {
       TICK_BUDGET;                                /* while stage < S && !budget_spent() */
       if :: st >= S || budget_fired || spent -> break :: else -> skip fi;
       stage_cur = st;                             /* begin = now */
       dl_g = has_grace[st]; dl_b = budget_armed; dl_k = 0;
       if
       :: lm ->                                    /* dispatch the stage's interrupts to a lane */
          i = 0;
          do
          :: i < N -> if :: stage_of[i] == st && !taken[i] -> taken[i] = 1; q[st]!i :: else -> skip fi; i++
          :: else -> i = 0; break
          od;
          if :: nempty(q[st]) -> ldisp[st] = 1; lholds[st] = 1; run Lane(st) :: empty(q[st]) -> skip fi
       :: else -> skip
       fi }
     if
     :: lm ->
#ifdef BUG_STAGE_SKIP
        atomic { w = W_DONE; POST(1) }             /* seeded bug: do not wait for the stage */
#else
        WAIT(2, C_STAGE_LANES, 1)
#endif
     :: else ->
        /* call_inline: one at a time, in registration order, on this thread */
        i = 0;
        do
        :: atomic { !hung ->
             do
             :: i < N && (stage_of[i] != st || taken[i]) -> i++
             :: else -> break
             od;
             if :: i == N -> i = 0; break :: else -> taken[i] = 1; CALL_INTERRUPT(i); INLINE_RESULT(i); i++ fi }
        od;
#ifdef BUG_DOUBLE_INTERRUPT
        /* seeded bug: the last stage calls the last actor's interrupt once more */
        if :: st == S - 1 -> atomic { CALL_INTERRUPT(N - 1) } :: else -> skip fi;
#endif
        WAIT(3, C_STAGE_INLINE, 1)
     fi;
     if
     :: w == W_DONE -> skip
     :: else ->
        atomic {
          if :: w == W_ESC -> spent = 1 :: else -> skip fi;   /* a second stop: budget spent now */
          TICK_BUDGET;
          if :: budget_fired || spent -> break :: else -> skip fi;   /* the final escalation takes it */
          /* only this stage's grace expired: escalate it, give it the kill grace, go on */
          ESCALATE_BEGIN(st, st + 1, 1) }
        ESCALATE_REST(2)
     fi
  od;
  /* final_escalation: the budget is spent, escalate every remaining stage at once */
  if
  :: st < S -> atomic { ESCALATE_BEGIN(st, S, 0) }; ESCALATE_REST(3)
  :: else -> skip
  fi;

  /* finish, and the properties of the returned run (one step, once every lane is settled) */
  atomic { ALL_SETTLED ->
    /* every lane, under its lock: a hook still running or queued did not return */
    l = 0;
    do
    :: l < MAXL ->
       if
       :: ldisp[l] ->
          if
          :: lrun[l] != NONE -> blocked_any = 1; if :: lrun[l] < N -> rep_blocked[lrun[l]] = 1 :: else -> skip fi
          :: else -> skip
          fi;
          j = len(q[l]);
          do
          :: j > 0 -> q[l]?i; q[l]!i; blocked_any = 1; if :: i < N -> rep_blocked[i] = 1 :: else -> skip fi; j--
          :: else -> break
          od
       :: else -> skip
       fi;
       l++
    :: else -> l = 0; break
    od;
    /* Arc::try_unwrap(cause) fails while a lane still holds the cause */
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
    /* Report::error, then into_result */
    if
    :: blocked_any -> result = RES_FAIL
    :: else ->
       if
       :: wout == R_PANIC || panicked -> result = RES_PANIC
       :: else ->
          if
          :: winner != NONE && wout == R_ERR -> result = RES_ERR
          :: else -> result = RES_OK
          fi
       fi
    fi;

    /* ------- properties of the returned run ------- */
    do
    :: i < N ->
       /* R08: every execute returned, or was abandoned */
       assert(exited[i] || abandoned[i]);
       /* S06: abandoned only after being escalated and a kill grace (or the budget) ran out */
       assert(!abandoned[i] || (escalated[i] && gave_up));
       /* R04: every interrupt was handed out; called once and returned, or reported blocked */
       assert(taken[i]);
       assert(rep_blocked[i] || (icalls[i] == 1 && iret[i]));
       assert(!rep_blocked[i] || lm);
       assert(icalls[i] <= 1 && fcalls[i] <= 1);
       /* S06 (K3): a hook is reported blocked only when run gave up waiting for it */
       assert(!rep_blocked[i] || gave_up);
       i++
    :: else -> i = 0; break
    od;
    /* S06: abandonment or a blocked hook is never reported as success */
    assert(!blocked_any || result == RES_FAIL);
    /* R09: a first exit that failed is never reported as success (K2) */
    assert(!(winner != NONE && wres != R_OK && result == RES_OK));
    /* R09: an Err result is the first exit's own */
    assert(result != RES_ERR || (winner != NONE && wres == R_ERR));
#ifdef WITNESS
    assert(!(WITNESS_COND));                       /* reachability: expected to fail */
#endif
    phase = FINISHED;                              /* control.finish() */
    returned = 1
  }
}

/* ================= the watchdog: no lost wake-up, no hang with a budget ================= */
#define CUR_DONE ((wcode == 1 && C_FIRST) || (wcode == 2 && C_STAGE_LANES) || \
                  (wcode == 3 && C_STAGE_INLINE) || (wcode == 4 && C_ESCALATE))
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
    lanes_mode = has_budget || has_grace[0] || has_grace[1];
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
