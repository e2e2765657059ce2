/*
 * mp_ring.pml - the claim / publish / tombstone protocol of multi-producer
 * rings (issue 18), checked with Spin: no lost slot, no double tombstone,
 * no tombstone over a live producer's slot nor over a later lap's marker,
 * no claim of a slot whose previous lap is not done, no consumer reading a
 * slot before it is fully published, no deadlock. The C it stands for is
 * disruptor-mp/src/multi.c (labels MP1..MP7 there and in layout.h, "Many
 * producers"); each step below names its C line.
 *
 * The protocol: a producer stores its intent (MP1), claims with a CAS on
 * the claim counter (MP2), writes the slot and publishes it with one
 * marker store (MP3), then empties its intent (MP4). Consumers read the
 * markers from their own position, never the shared cursor. The cursor is
 * a lower bound of the published frontier that producers move lazily
 * (MP5, dmp_impl_mp_advance()): when a claim is beyond their cached limit
 * (mp_limit()), after a publish that saw a parked consumer, after a
 * repair. A claim never goes beyond min(slowest consumer, cursor) + CAP.
 *
 * Biased claim (layout.h, "Biased claims"; multi.c X1..X3, J2, MP2x):
 * producer 0 is the creator and owns the claim (bias EXCLUSIVE): it stores
 * its intent, loads the bias (X1) and, if still EXCLUSIVE, stores the
 * claim counter plainly (MP2x; asserted: no other claim came between its
 * load of the counter and that store). Every other producer attaches first
 * (J2: EXCLUSIVE -> REVOKING) and claims only once the bias is SHARED: it
 * sets SHARED itself (X3) when the owner is dead, or outside its plain
 * claim (X2: its intent empty or the counter at the intent's end); the
 * owner sets it when it sees REVOKING (its ack) and CASes from then on.
 * membarrier(2) is what makes X1's compiler barrier a full one against
 * X2 in C; here, as every atomic, it is sequentially consistent.
 * -DBIASED=0: the ring starts SHARED (no membarrier): the plain CAS protocol.
 *
 * Abort (dmp_producer_abort() on a multi-producer handle: multi.c,
 * dmp_impl_mp_abort(), mp_drop_pending()): up to ABORTS claims (default
 * 1, -DABORTS=0 none) are aborted after their payload is (half) written:
 * the producer stores the tombstone marker itself (MP3's tombstone form),
 * empties its intent (MP4), moves the cursor (MP5) and then idles for
 * good, alive, never claiming, publishing or closing again. The consumer
 * stops waiting once every producer has ended or idles, and must still
 * have every slot delivered or tombstoned: an abort that left its
 * tombstones to the handle's next call (as before this model had aborts)
 * fails that check (ccur == claim - 1) with an idle aborter.
 *
 * Run (what tests/model/check_spin.sh does for suite model, runs listed in tests/model/meson.build):
 *   spin -a -DNPROD=2 -DCLAIMS=2 -DCAP=2 mp_ring.pml && gcc -O2 -o pan pan.c && ./pan -m400000
 *   spin -a -DNPROD=3 -DCLAIMS=1 -DCAP=2 -DDIER=1 mp_ring.pml && gcc -O2 -DBITSTATE -o pan pan.c && ./pan -w28 -Q2
 * ./pan's default checks: assertions and invalid end states (deadlock).
 *
 * What is abstracted: sequences are small (at most NPROD * CLAIMS claims),
 * every atomic is sequentially consistent (the C uses seq_cst for the
 * claim CAS MP2, the cursor CAS and its loads MP5, the marker CAS MP6 and
 * the loads MP7; MP1, MP3 and MP4 are relaxed or release stores and the
 * consumers' marker loads acquire loads, which is the same here: MP1's are
 * ordered before the seq_cst CAS MP2 that follows them, MP3's before MP5's
 * cursor load by the full fence at the top of dmp_impl_mp_advance(), a
 * consumer that acquires a marker sees the slot written before it, and a
 * repairer that reads MP4's (or MP1's lo) store acquires the markers
 * before it), a claim takes one slot (a batch is the same with a wider
 * range), a producer's cached claim limit is recomputed at every claim
 * (C claims only below a limit computed earlier, which is never above the
 * current one: a subset of these runs), the consumer is one gating
 * consumer that also repairs (as dmp_consumer_wait does in check_peers),
 * a waiting producer may repair too (dmp_impl_mp_claim_wait), a crash is a
 * producer stopping at any step with its lock released (the kernel drops
 * OFD locks of a dead process), the repairer's OFD lock probe is a read
 * of alive[], and the wake-up (futex) protocol is not modelled: a wait is
 * a blocking guard.
 */
#ifndef NPROD
#define NPROD 2
#endif
#ifndef CLAIMS
#define CLAIMS 2
#endif
#ifndef CAP
#define CAP 2
#endif
#ifndef PREPAIR
#define PREPAIR true /* a waiting producer may repair (false: only the consumer) */
#endif
#ifndef MAXCRASH
#define MAXCRASH 1
#endif
#ifndef BIASED
#define BIASED 1
#endif
#ifndef ABORTS
#define ABORTS 1   /* claims that may be aborted (then the producer idles, alive, for good) */
#endif
#define SHARED 0
#define EXCLUSIVE 1
#define REVOKING 2
#define TOTAL (NPROD * CLAIMS)

byte claim = 0;            /* mp_claim: next sequence to claim */
short cursor = -1;         /* producer_cursor: all <= it are done */
short ccur = -1;           /* the consumer's released cursor (gating) */
short marks[CAP];          /* seq+1: data; -(seq+1): tombstone; else not done for seq */
short lo[NPROD], hi[NPROD];/* intents */
bool alive[NPROD];
byte ended = 0;            /* producers finished or dead */
byte idled = 0;            /* producers that aborted and idle (alive) */
byte aborts = 0;
byte crashes = 0;
bool dirty = true;         /* see the consumer */
byte bias = (BIASED -> EXCLUSIVE : SHARED); /* mp_bias; mp_owner is producer 0 */
/* ghosts, for the assertions */
short written[CAP];        /* seq whose payload is fully in the slot (-1 none) */
byte owner[TOTAL];         /* who claimed seq */
byte tombs[TOTAL];         /* tombstones stored per seq */
byte delivered = 0;

#define DONE(s) (marks[(s) % CAP] == (s) + 1 || marks[(s) % CAP] == -((s) + 1))
#define MIN(a, b) ((a) < (b) -> (a) : (b))

/* A crash may happen before any step of a producer (with -DDIER=k only
 * producer k may die: the 3-producer check, whose full space is too big). */
#ifdef DIER
#define MAY_ME (me == DIER)
#else
#define MAY_ME true
#endif
#define MAYDIE \
  if \
  :: crashes < MAXCRASH && MAY_ME -> atomic { crashes++; alive[me] = false; ended++; dirty = true }; goto dead \
  :: true -> skip \
  fi

/* MP5, dmp_impl_mp_advance(): move the cursor over done slots (multi.c,
 * "while (end - cur < cap && mark_done(...)) end++" and the CAS). */
inline advance(cur)
{
  cur = cursor;                                  /* MP5: load of the cursor */
  do
  :: cur < TOTAL - 1 && DONE(cur + 1) ->         /* MP5: marker load */
     atomic {                                    /* MP5: CAS of the cursor */
       if
       :: cursor == cur -> cursor = cur + 1; cur = cur + 1; dirty = true
       :: else -> cur = cursor
       fi
     }
  :: else -> break
  od;
  cur = 0
}

/* MP6/MP7, dmp_impl_mp_repair(): tombstone each claimed, unpublished slot
 * no live producer's intent covers. */
inline repair(c, cur, s, k, covered, m, live)
{
  c = claim;                                     /* MP7: claim counter first */
  cur = cursor;
  /* the live snapshot ("for k: dmp_impl_lock_held(...)"), after the claim */
  d_step {
    k = 0; live = 0;
    do
    :: k < NPROD -> if :: alive[k] -> live = live | (1 << k) :: else -> skip fi; k++
    :: else -> break
    od;
    k = 0
  };
  s = cur + 1;
  do
  :: s < c ->
     m = marks[s % CAP];                         /* "m = dmp_impl_load_seq_cst(mk)" */
     if
     :: m == s + 1 || m == -(s + 1) -> skip      /* mark_done: continue */
     :: (m > s + 1 || m < -(s + 1)) && (m > 0 -> m - 1 : -m - 1) < claim -> skip
                                                 /* "x > s && x < ...mp_claim": a later lap's marker */
     :: else ->
        covered = false; k = 0;
        do                                       /* MP7: intents of live entries */
        :: k < NPROD && !covered ->
           if :: (live & (1 << k)) && lo[k] <= s && s < hi[k] -> covered = true
              :: else -> skip fi;
           k++
        :: else -> break
        od;
        if
        :: !covered ->
           atomic {                              /* MP6: CAS marker m -> TOMB(s) */
             if
             :: marks[s % CAP] == m ->
                assert(m == 0 || (m > 0 -> m - 1 : -m - 1) < s); /* never over a later lap */
                marks[s % CAP] = -(s + 1);
                assert(!alive[owner[s]]);        /* never a live producer's slot */
                tombs[s]++;
                assert(tombs[s] == 1)            /* never twice */
             :: else -> skip
             fi
           }
        :: else -> skip
        fi
     fi;
     s++
  :: else -> break
  od;
  skip;
  d_step { c = 0; s = 0; k = 0; covered = false; m = 0; live = 0 };  /* locals reset: fewer states */
  advance(cur)
}

proctype producer(byte me)
{
  byte n = 0, c, c2, b;
  short cur, k2, mm, ol, oh;
  byte k, live;
  bool covered;
  bool excl = (me == 0 && bias == EXCLUSIVE);    /* the creator's join */
  bool settled = (me == 0);
  alive[me] = true;
  if                                             /* J2: an attacher revokes (CAS) */
  :: me != 0 -> atomic { if :: bias == EXCLUSIVE -> bias = REVOKING :: else -> skip fi }
  :: else -> skip
  fi;
claim_next:
  MAYDIE;
  if
  :: n == CLAIMS -> goto finish
  :: else -> skip
  fi;
settle:                                          /* mp_settle(), before a non-owner's claim */
  if
  :: !excl && !settled ->
     b = bias;                                   /* "b = load_acquire(&ctl->mp_bias)" */
     if
     :: b != REVOKING -> settled = true
     :: else ->
        if
        :: !alive[0] -> skip                     /* "dead = ... lock_held(...) == 0" */
        :: else ->                               /* X2 (after the membarrier) */
           ol = lo[0]; oh = hi[0];               /* owner_outside_claim(): intent */
           if
           :: ol >= oh -> skip
           :: else ->
              if
              :: claim >= oh -> skip             /* "mp_claim >= hi": MP2x done */
              :: else ->                         /* inside: the claim fails, the caller waits */
                 d_step { ol = 0; oh = 0; b = 0 };
                 MAYDIE;
                 (bias != REVOKING || !alive[0] || lo[0] >= hi[0] || claim >= hi[0]);
                 goto settle
              fi
           fi
        fi;
        atomic { if :: bias == REVOKING -> bias = SHARED :: else -> skip fi }; /* X3: CAS */
        settled = true
     fi;
     d_step { ol = 0; oh = 0; b = 0 }
  :: else -> skip
  fi;
retry:
  c = claim;                                     /* "c = ... load_seq_cst(&ctl->mp_claim)" */
  if
  :: c > MIN(ccur, cursor) + CAP ->              /* "if (last > mp->limit)": refresh */
     advance(cur);                               /* mp_limit(): MP5, lazily */
     if
     :: c > MIN(ccur, cursor) + CAP ->           /* still full: -EAGAIN */
        atomic { lo[me] = hi[me]; dirty = true } /* "store lo = hi" on -EAGAIN */
        MAYDIE;
        if                                       /* dmp_impl_mp_claim_wait(): repair every MP_REPAIR_NS */
        :: PREPAIR -> repair(c2, cur, k2, k, covered, mm, live)
        :: true -> skip
        fi;
        /* wait until the window, the counter or the frontier moves */
        (c <= MIN(ccur, cursor) + CAP || claim != c || DONE(cursor + 1));
        goto retry
     :: else -> skip
     fi
  :: else -> skip
  fi;
  atomic { hi[me] = c + 1; dirty = true };      /* MP1: intent, hi first */
  MAYDIE;
  atomic { lo[me] = c; dirty = true };          /* MP1: then lo */
  MAYDIE;
  if
  :: excl ->
     b = bias;                                   /* X1: "load_relaxed(&ctl->mp_bias)" */
     MAYDIE;
     if
     :: b == EXCLUSIVE ->
        atomic {                                 /* MP2x: "store_release(&ctl->mp_claim, c + n)" */
          assert(claim == c);                    /* nobody claimed since our load: no slot twice */
          claim = c + 1; owner[c] = me; dirty = true; b = 0;
          assert(c < CAP || DONE(c - CAP))
        };
        goto claimed
     :: else ->                                  /* mp_unbias(): the ack (X3), then the CAS */
        excl = false; settled = true; b = 0;
        atomic { if :: bias == REVOKING -> bias = SHARED :: else -> skip fi };
        goto retry
     fi
  :: else -> skip
  fi;
  atomic {                                       /* MP2: CAS of mp_claim */
    if
    :: claim == c -> claim = c + 1; owner[c] = me; dirty = true;
       assert(c < CAP || DONE(c - CAP))          /* the slot's previous lap is done */
    :: else -> goto retry_out
    fi
  };
claimed:
  MAYDIE;
  written[c % CAP] = c;                          /* the payload (memcpy into the slot) */
  MAYDIE;
  if
  :: aborts < ABORTS -> goto abort
  :: true -> skip
  fi;
  marks[c % CAP] = c + 1;                        /* MP3: marker store: the publish */
  MAYDIE;
  atomic { lo[me] = hi[me]; dirty = true };     /* MP4: intent emptied */
  MAYDIE;
  if                                             /* P2: "if (load(data_waiters) != 0)" */
  :: advance(cur)                                /* MP5 before the wake-up */
  :: true -> skip
  fi;
  n++;
  goto claim_next;
retry_out:
  goto retry;
abort:                                           /* dmp_producer_abort() -> dmp_impl_mp_abort(): mp_drop_pending() */
  atomic {                                       /* MP3, tombstone form: "store_release(mark_of(..), DMP_MARK_TOMB(s))" */
    aborts++;
    marks[c % CAP] = -(c + 1);
    tombs[c]++;
    assert(tombs[c] == 1)                        /* never twice, never over a repairer's */
  };
  MAYDIE;
  atomic { lo[me] = hi[me]; dirty = true };     /* MP4: "store_release(&mp->entry->claim_lo, mp->hi)" */
  MAYDIE;
  advance(cur);                                  /* MP5: "dmp_impl_mp_advance(&p->ring)", before the abort returns */
  atomic { idled++; dirty = true };              /* then idles: alive, no claim, publish or close, ever */
end_idle:
  false;
finish:
  atomic { alive[me] = false; ended++; dirty = true }; /* dmp_producer_close() */
dead:
  skip
}

/* `dirty`: set by every write a repair decides on (cursor, claim, intents,
 * deaths); a waiter repairs again only once it was set since its last
 * repair (in C it retries every period; with nothing changed a retry
 * decides the same). */
proctype consumer()
{
  short s, m, cur, k2, mm;
  byte c2, k;
  bool covered;
  byte live;
  do
  :: DONE(ccur + 1) ->                           /* C1: "load_acquire(mark_of(marks, .., s))" (reload) */
     s = ccur + 1;
     m = marks[s % CAP];
     assert(m == s + 1 || m == -(s + 1));        /* only a lap after our release changes it */
     if
     :: m == s + 1 -> assert(written[s % CAP] == s); delivered++  /* never half-written */
     :: else -> assert(tombs[s] == 1)            /* a tombstone someone stored */
     fi;
     d_step { ccur = s; s = 0; m = 0 }           /* C2: release */
  :: atomic { !DONE(ccur + 1) && ccur < claim - 1 && dirty -> dirty = false }; /* check_peers(): dmp_impl_mp_repair() */
     repair(c2, cur, k2, k, covered, mm, live)
  :: ended + idled == NPROD -> break
  od;
  /* Every producer is gone or idles after an abort (which must hold back
   * nobody): the last repair, then drain (OWNERDEAD after). */
  repair(c2, cur, k2, k, covered, mm, live);
  do
  :: DONE(ccur + 1) ->
     s = ccur + 1; m = marks[s % CAP];
     if :: m == s + 1 -> assert(written[s % CAP] == s); delivered++ :: else -> skip fi;
     ccur = s
  :: else -> break
  od;
  assert(ccur == claim - 1)                      /* no lost slot: all delivered or tombstoned */
}

init
{
  byte i;
  atomic {
    i = 0;
    do
    :: i < CAP -> written[i] = -1; i++
    :: else -> break
    od;
    i = 0;
    do
    :: i < NPROD -> alive[i] = true; run producer(i); i++
    :: else -> break
    od;
    run consumer()
  }
}
