/*
 * mp_bytes.pml - the claim / publish / tombstone protocol of byte rings
 * with many producers (DMP_RING_BYTES | DMP_RING_MULTI_PRODUCER; issues 18
 * and 20), checked with Spin: no lost record (every record claimed is
 * delivered or was a dead producer's), no double tombstone, no tombstone
 * over a live producer's block, every tombstone a reader steps over a dead
 * producer's, a tombstone run ending at a record boundary, no reader
 * reading a record (header or payload) before it is fully published nor
 * a record reaching past the published frontier, no claim of a block
 * whose previous lap is not done, no deadlock. The C it stands for is
 * disruptor-mp/src/bytes_multi.c (labels B1..B5) over multi.c (MP1..MP7,
 * as in mp_ring.pml) and bytes.c (the header check); each step names its
 * C line.
 *
 * The ring has CAP blocks; a record takes 1 or 2 blocks (chosen at each
 * claim: up to half the ring, as bytes.c's max_record()); a record that
 * would cross the ring's end is preceded by a padding record to the end,
 * claimed in the same step of the claim counter (B1; padding is 1 block
 * here, the most a record of 2 blocks in a ring of 4 needs).
 *
 * What is abstracted: as mp_ring.pml (every atomic sequentially
 * consistent, one gating consumer that also repairs, a producer's claim
 * limit recomputed at every claim, a crash is a producer stopping at any
 * step with its lock released, no futex wake-ups); the biased claim is
 * left out (-DBIASED=0 of mp_ring.pml: a byte claim is the same claim of
 * the counter, by CAS or by the owner's plain store, which mp_ring.pml
 * checks); a record's header is one ghost write (kind, blocks, seq) and its
 * payload one ghost write per block; the reader's frontier scan is the
 * DONE test over the record's blocks (C: dmp_impl_mp_published()'s scan
 * and bytes.c's check() "within what was published").
 *
 * START blocks of the ring have been used and released when the run
 * starts (START 3 of CAP 4: the first claims wrap, with padding, and
 * reuse blocks of the previous lap).
 *
 * Abort (dmp_producer_abort() on a multi-producer handle: multi.c,
 * dmp_impl_mp_abort(), mp_drop_pending(), as in mp_ring.pml): up to ABORTS
 * claims (default 1, -DABORTS=0 none) are aborted after their header and
 * payload are written, instead of B4: the producer stores the tombstone
 * marker of the blocks B2 left unmarked (the record's first block, then
 * the padding's; MP3's tombstone form, a crash possible between them),
 * so every block of its claim is a tombstone, and empties its
 * intent (MP4), moves the cursor (MP5) and then idles for good, alive.
 * The reader steps over those tombstones (a run from the claim's first
 * block to its end) and must still reach every block, with the aborter
 * idle.
 *
 * Run (what tests/model/check_spin.sh does for suite model, runs listed in tests/model/meson.build):
 *   spin -a -DNPROD=2 -DCLAIMS=1 -DCAP=4 -DSTART=3 mp_bytes.pml && gcc -O2 -DCOLLAPSE -o pan pan.c && ./pan -m400000
 *   (exhaustive), then as bounded (bitstate) searches of 2 minutes at most:
 *   -DNPROD=2 -DCLAIMS=2 -DCAP=4 -DSTART=3 and -DNPROD=3 -DCLAIMS=1 -DCAP=4 -DSTART=2 -DDIER=1.
 *   The exhaustive NPROD=2 CLAIMS=2 space (> 51 million states, 8 minutes,
 *   3 GB) does not fit CI's budget.
 */
#ifndef NPROD
#define NPROD 2
#endif
#ifndef CLAIMS
#define CLAIMS 2
#endif
#ifndef CAP
#define CAP 4
#endif
#ifndef MAXCRASH
#define MAXCRASH 1
#endif
#ifndef START
#define START 0                   /* blocks already used (done) when the run starts: START 3 makes the first claims wrap */
#endif
#ifndef ABORTS
#define ABORTS 1                  /* claims that may be aborted (then the producer idles, alive, for good) */
#endif
#define MAXREC 2                  /* blocks of the largest record: half the ring (CAP 4) */
#define TOTAL (START + NPROD * CLAIMS * (MAXREC + 1))
#define KDATA 1
#define KPAD 2

byte claim = 0;                   /* mp_claim: next block to claim */
short cursor = -1;                /* producer_cursor: all <= it are done */
short ccur = -1;                  /* the consumer's released cursor (gating) */
short marks[CAP];                 /* seq+1: data; -(seq+1): tombstone; else not done for seq */
short lo[NPROD], hi[NPROD];       /* intents */
bool alive[NPROD];
bool crashed[NPROD];
bool aborted[NPROD];              /* ghost: the producer aborted a claim */
byte ended = 0;
byte idled = 0;                   /* producers that aborted and idle (alive) */
byte aborts = 0;
byte crashes = 0;
bool dirty = true;
/* the record headers in the blocks (bytes.c put_header()): seq, kind, blocks */
short hseq[CAP];
byte hkind[CAP];
byte hblocks[CAP];
/* ghosts */
short written[CAP];               /* seq whose payload block is fully written (-1 none) */
byte owner[TOTAL];                /* who claimed block seq */
bool start[TOTAL];                /* block seq is the first block of a record (data or padding) */
byte tombs[TOTAL];                /* tombstones stored by repairs per seq */
byte published = 0;               /* data records published (B4) */
byte delivered = 0;

#define DONE(s) (marks[(s) % CAP] == (s) + 1 || marks[(s) % CAP] == -((s) + 1))
#define MIN(a, b) ((a) < (b) -> (a) : (b))

#ifdef DIER
#define MAY_ME (me == DIER)
#else
#define MAY_ME true
#endif
#define MAYDIE \
  if \
  :: crashes < MAXCRASH && MAY_ME -> atomic { crashes++; alive[me] = false; crashed[me] = true; ended++; dirty = true }; goto dead \
  :: true -> skip \
  fi

/* MP5, dmp_impl_mp_advance(), block by block (as mp_ring.pml). */
inline advance(cur)
{
  cur = cursor;
  do
  :: cur < TOTAL - 1 && DONE(cur + 1) ->
     atomic {
       if
       :: cursor == cur -> cursor = cur + 1; cur = cur + 1; dirty = true
       :: else -> cur = cursor
       fi
     }
  :: else -> break
  od;
  cur = 0
}

/* MP6/MP7 + B5, dmp_impl_mp_repair(): tombstone each claimed block not
 * done that no live producer's intent covers (a dead claim's first blocks,
 * and inner blocks whose B2 store it never made). */
inline repair(c, cur, s, k, covered, m, live)
{
  c = claim;                                     /* MP7: claim counter first */
  cur = cursor;
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
     m = marks[s % CAP];
     if
     :: m == s + 1 || m == -(s + 1) -> skip
     :: (m > s + 1 || m < -(s + 1)) && (m > 0 -> m - 1 : -m - 1) < claim -> skip
     :: else ->
        covered = false; k = 0;
        do
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
                assert(m == 0 || (m > 0 -> m - 1 : -m - 1) < s);
                marks[s % CAP] = -(s + 1);
                assert(!alive[owner[s]] && crashed[owner[s]]); /* only a dead producer's block */
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
  d_step { c = 0; s = 0; k = 0; covered = false; m = 0; live = 0 };
  advance(cur)
}

proctype producer(byte me)
{
  byte n = 0, c, c2, rec, pad, at, k, live, b;
  short cur, k2, mm;
  bool covered;
  alive[me] = true;
claim_next:
  MAYDIE;
  if
  :: n == CLAIMS -> goto finish
  :: else -> skip
  fi;
  if                                             /* the record's blocks: blocks_of(len) */
  :: rec = 1
  :: rec = MAXREC
  fi;
retry:
  c = claim;                                     /* mp_try_claim(): "c = load_seq_cst(&ctl->mp_claim)" */
  /* B1: dmp_impl_bytes_mp_span(): the padding, from where this claim lands */
  pad = ((c % CAP) + rec > CAP -> CAP - (c % CAP) : 0);
  if
  :: c + pad + rec - 1 > MIN(ccur, cursor) + CAP ->   /* "if (last > mp->limit)" */
     advance(cur);
     if
     :: c + pad + rec - 1 > MIN(ccur, cursor) + CAP ->
        atomic { lo[me] = hi[me]; dirty = true }
        MAYDIE;
        repair(c2, cur, k2, k, covered, mm, live);   /* dmp_impl_mp_claim_wait() */
        (c + pad + rec - 1 <= MIN(ccur, cursor) + CAP || claim != c || DONE(cursor + 1));
        goto retry
     :: else -> skip
     fi
  :: else -> skip
  fi;
  atomic { hi[me] = c + pad + rec; dirty = true };  /* MP1: intent, hi first */
  MAYDIE;
  atomic { lo[me] = c; dirty = true };              /* MP1: then lo */
  MAYDIE;
  atomic {                                       /* MP2: CAS of mp_claim by pad + rec blocks */
    if
    :: claim == c ->
       claim = c + pad + rec; dirty = true;
       k = 0;
       do
       :: k < pad + rec ->
          owner[c + k] = me;
          assert(c + k < CAP || DONE(c + k - CAP));  /* the block's previous lap is done */
          k++
       :: else -> break
       od;
       k = 0;
       start[c] = true; start[c + pad] = true
    :: else -> goto retry_out
    fi
  };
  at = c + pad;
  MAYDIE;
  if                                             /* B2: inner markers (a 2-block record's second block) */
  :: rec == 2 -> marks[(at + 1) % CAP] = -(at + 2)
  :: else -> skip
  fi;
  MAYDIE;
  if                                             /* B3: bytes.c put_header() of the padding */
  :: pad > 0 ->
     d_step { hseq[c % CAP] = c; hkind[c % CAP] = KPAD; hblocks[c % CAP] = pad; written[c % CAP] = c }
  :: else -> skip
  fi;
  /* B3: the record's header and its first block's payload, then the rest */
  d_step { hseq[at % CAP] = at; hkind[at % CAP] = KDATA; hblocks[at % CAP] = rec; written[at % CAP] = at };
  MAYDIE;
  if
  :: rec == 2 -> written[(at + 1) % CAP] = at + 1
  :: else -> skip
  fi;
  MAYDIE;
  if
  :: aborts < ABORTS -> goto abort
  :: true -> skip
  fi;
  atomic { marks[at % CAP] = at + 1; published++ }  /* B4: "store_release(mark(.., bytes_at), DATA)" */
  MAYDIE;
  if
  :: pad > 0 -> marks[c % CAP] = c + 1           /* B4: then the padding's first block */
  :: else -> skip
  fi;
  MAYDIE;
  atomic { lo[me] = hi[me]; dirty = true };      /* MP4 */
  MAYDIE;
  if
  :: advance(cur)
  :: true -> skip
  fi;
  d_step { pad = 0; at = 0; c = 0; rec = 0 };
  n++;
  goto claim_next;
retry_out:
  goto retry;
abort:                                           /* dmp_producer_abort() -> dmp_impl_mp_abort(): mp_drop_pending() */
  atomic { aborts++; aborted[me] = true };
  /* MP3, tombstone form, of the blocks B2 left unmarked only, in B4's
   * order: "store_release(mark_of(.., mp->bytes_at), DMP_MARK_TOMB(..))",
   * then the padding's first block. (Storing every block of the claim
   * again, as the C did before, overwrote a reused block's next-lap
   * marker when the abort stopped between its stores: this model's
   * NPROD=2 CLAIMS=2 run found it.) */
  marks[at % CAP] = -(at + 1);
  MAYDIE;
  if
  :: pad > 0 -> marks[c % CAP] = -(c + 1); MAYDIE
  :: else -> skip
  fi;
  atomic { lo[me] = hi[me]; dirty = true };      /* MP4: "store_release(&mp->entry->claim_lo, mp->hi)" */
  MAYDIE;
  advance(cur);                                  /* MP5: "dmp_impl_mp_advance(&p->ring)", before the abort returns */
  atomic { idled++; dirty = true };              /* then idles: alive, no claim, publish or close, ever */
end_idle:
  false;
finish:
  atomic { alive[me] = false; ended++; dirty = true };
dead:
  skip
}

/* The gating reader, dmp_impl_bytes_mp_peek(): at its position s (always
 * a record boundary): a tombstone -> step over it (the run); else read the
 * header (bytes.c check()) and the record, then release. */
inline read_at(s, m, b, intomb)
{
  s = ccur + 1;
  m = marks[s % CAP];                            /* "dmp_impl_consumer_is_tomb(c, s)" (acquire) */
  assert(m == s + 1 || m == -(s + 1));
  if
  :: m == -(s + 1) ->                            /* B5 seen: "dmp_impl_mp_skip_tombstones()" */
     assert(crashed[owner[s]] || aborted[owner[s]]); /* every tombstone a reader sees is a dead producer's or an abort's */
     assert(intomb || start[s]);                 /* a run starts at a record boundary */
     intomb = true;
     ccur = s
  :: else ->
     assert(start[s]);                           /* a tombstone run ends at a record boundary */
     intomb = false;
     assert(hseq[s % CAP] == s);                 /* the header is this record's (check(): seq) */
     b = hblocks[s % CAP];
     /* check(): "within what was published": every block done */
     assert(b == 1 || DONE(s + 1));
     assert(written[s % CAP] == s && (b == 1 || written[(s + 1) % CAP] == s + 1)); /* never half-written */
     if
     :: hkind[s % CAP] == KDATA -> delivered++
     :: else -> assert((s + b) % CAP == 0)       /* padding: to the ring's end */
     fi;
     ccur = s + b - 1                            /* C2: release */
  fi;
  d_step { s = 0; m = 0; b = 0 }
}

proctype consumer()
{
  short s, m, cur, k2, mm;
  byte c2, k, b, live;
  bool covered, intomb = false;
  do
  :: DONE(ccur + 1) -> read_at(s, m, b, intomb)
  :: atomic { !DONE(ccur + 1) && ccur < claim - 1 && dirty -> dirty = false };
     repair(c2, cur, k2, k, covered, mm, live)   /* check_peers(): dmp_impl_mp_repair() */
  :: ended + idled == NPROD -> break           /* an idle aborter must hold back nobody */
  od;
  repair(c2, cur, k2, k, covered, mm, live);
  do
  :: DONE(ccur + 1) -> read_at(s, m, b, intomb)
  :: else -> break
  od;
  assert(ccur == claim - 1);                     /* no lost block: all read or tombstoned */
  assert(delivered == published)                 /* no lost record */
}

init
{
  byte i;
  atomic {
    i = 0;
    do
    :: i < CAP -> written[i] = -1; hseq[i] = -1; i++
    :: else -> break
    od;
    i = 0;
    do                                           /* a ring that START blocks went through, all released */
    :: i < START -> marks[i % CAP] = i + 1; i++
    :: else -> break
    od;
    claim = START; cursor = START - 1; ccur = START - 1;
    i = 0;
    do
    :: i < NPROD -> alive[i] = true; run producer(i); i++
    :: else -> break
    od;
    run consumer()
  }
}
