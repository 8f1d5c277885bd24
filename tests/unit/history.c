/* history.c — an independent history checker for the unit tests (see
 * history.h): records a history of sequence operations and checks, from the
 * outside and sharing no code with src/, that it keeps seqd's guarantees:
 * uniqueness per name across incarnations (holds of one number by two
 * callers never overlap in time; nothing told after a void; nothing an
 * earlier incarnation told), containment in the current incarnation's
 * ranges, strict order per range, and no tell of a dropped or unknown name.
 *
 * Include it exactly once per test program (the guard makes a second
 * #include harmless).  Every exported function is hist_*, every helper is
 * static hist__*.
 *
 * How it works (per name, everything stored as intervals, never per number):
 *  - one pass in call order keeps the live incarnation and its ranges
 *    (sorted), checks containment and strict order against a per-range
 *    high-water mark, looks up voided numbers in an interval treap, and
 *    matches each confirm/release to who's latest earlier tell covering the
 *    number (another interval treap keyed by caller);
 *  - incarnation reuse: tells sorted by first number, one sweep that keeps
 *    the two furthest-reaching tells of different incarnations;
 *  - each tell becomes hold segments [numbers] x [start_ms, end_ms), split
 *    only where a confirm/release changed one number's end;
 *  - a sweep over time with an interval treap of the holds live at that
 *    moment finds two callers' holds of one number at once.
 * All of it is O(n log n) in the recorded calls, plus the overlapping holds
 * of one caller (replays) that a lookup meets. */
#ifndef SEQD_TESTS_UNIT_HISTORY_C
#define SEQD_TESTS_UNIT_HISTORY_C

#include "history.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- recording ---------------------------------------------------------- */

enum {
    HIST__CREATE,
    HIST__RANGE,
    HIST__DROP,
    HIST__TOLD,
    HIST__CONFIRMED,
    HIST__RELEASED,
    HIST__VOIDED,
};

typedef struct {
    int64_t a, b;      /* told: first, last; range: min, max; others: v, v */
    int64_t t_ms;
    int64_t until_ms;  /* told only */
    uint64_t who;
    uint32_t name;
    uint8_t kind;
    uint8_t flags;
} hist__event;

struct hist {
    hist__event *ev;
    size_t n_ev, cap_ev;
    char **names;
    size_t n_names, cap_names;
    uint32_t *slots;   /* open addressing over names: index + 1, 0 = empty */
    size_t n_slots;    /* a power of two */
};

#if defined(__GNUC__)
#define HIST__PRINTF(f, a) __attribute__((format(printf, f, a)))
#define HIST__NORETURN __attribute__((noreturn))
#else
#define HIST__PRINTF(f, a)
#define HIST__NORETURN
#endif

static void hist__die(const char *fmt, ...) HIST__PRINTF(1, 2) HIST__NORETURN;
static void hist__die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("history: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static void *hist__calloc(size_t n, size_t size, const char *what)
{
    if (n == 0)
        n = 1;
    if (size != 0 && n > SIZE_MAX / size)
        hist__die("%s: %zu x %zu bytes overflows", what, n, size);
    void *p = calloc(n, size);
    if (p == NULL)
        hist__die("%s: out of memory (%zu x %zu bytes)", what, n, size);
    return p;
}

/* Grows *p (an array of elem-byte items, capacity *cap) to hold need items,
 * aborting past max. */
static void hist__grow(void **p, size_t *cap, size_t need, size_t elem,
                       size_t max, const char *what)
{
    if (need <= *cap)
        return;
    if (need > max)
        hist__die("more than %zu %s (cap reached)", max, what);
    size_t c = *cap == 0 ? 64 : *cap;
    while (c < need)
        c = c > max / 2 ? max : c * 2;
    void *q = realloc(*p, c * elem);
    if (q == NULL)
        hist__die("%s: out of memory (%zu items)", what, c);
    *p = q;
    *cap = c;
}

static uint64_t hist__hash_bytes(const char *s)
{
    uint64_t x = 1469598103934665603ull;
    for (; *s != '\0'; s++) {
        x ^= (unsigned char)*s;
        x *= 1099511628211ull;
    }
    return x;
}

static void hist__slots_put(uint32_t *slots, size_t n_slots, uint64_t hash,
                            uint32_t idx)
{
    size_t m = n_slots - 1;
    for (size_t i = (size_t)hash & m;; i = (i + 1) & m) {
        if (slots[i] == 0) {
            slots[i] = idx + 1;
            return;
        }
    }
}

/* The index of name, adding it on first sight. */
static uint32_t hist__name(hist *h, const char *name)
{
    if (h == NULL || name == NULL)
        hist__die("NULL history or name");
    size_t len = strnlen(name, HIST_NAME_MAX_BYTES + 1);
    if (len > HIST_NAME_MAX_BYTES)
        hist__die("a name longer than %u bytes", HIST_NAME_MAX_BYTES);
    uint64_t hash = hist__hash_bytes(name);
    if (h->n_slots != 0) {
        size_t m = h->n_slots - 1;
        for (size_t i = (size_t)hash & m; h->slots[i] != 0; i = (i + 1) & m) {
            uint32_t idx = h->slots[i] - 1;
            if (strcmp(h->names[idx], name) == 0)
                return idx;
        }
    }
    hist__grow((void **)&h->names, &h->cap_names, h->n_names + 1,
               sizeof(*h->names), HIST_NAMES_MAX, "names");
    uint32_t idx = (uint32_t)h->n_names;
    char *copy = hist__calloc(len + 1, 1, "name");
    memcpy(copy, name, len);
    h->names[h->n_names++] = copy;
    if (h->n_names * 2 > h->n_slots) {
        size_t n = h->n_slots == 0 ? 64 : h->n_slots * 2;
        uint32_t *s = hist__calloc(n, sizeof(*s), "name table");
        for (size_t i = 0; i + 1 < h->n_names; i++)
            hist__slots_put(s, n, hist__hash_bytes(h->names[i]), (uint32_t)i);
        free(h->slots);
        h->slots = s;
        h->n_slots = n;
    }
    hist__slots_put(h->slots, h->n_slots, hash, idx);
    return idx;
}

static void hist__push(hist *h, uint8_t kind, const char *name, uint64_t who,
                       int64_t a, int64_t b, int64_t t_ms, int64_t until_ms,
                       unsigned flags)
{
    uint32_t n = hist__name(h, name);
    hist__grow((void **)&h->ev, &h->cap_ev, h->n_ev + 1, sizeof(*h->ev),
               HIST_EVENTS_MAX, "recorded events");
    hist__event *e = &h->ev[h->n_ev++];
    e->a = a;
    e->b = b;
    e->t_ms = t_ms;
    e->until_ms = until_ms;
    e->who = who;
    e->name = n;
    e->kind = kind;
    e->flags = (uint8_t)flags;
}

hist *hist_new(void)
{
    return hist__calloc(1, sizeof(hist), "hist");
}

void hist_free(hist *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->n_names; i++)
        free(h->names[i]);
    free(h->names);
    free(h->slots);
    free(h->ev);
    free(h);
}

size_t hist_event_count(const hist *h)
{
    return h->n_ev;
}

void hist_create(hist *h, const char *name, int64_t t_ms)
{
    hist__push(h, HIST__CREATE, name, 0, 0, 0, t_ms, 0, 0);
}

void hist_range(hist *h, const char *name, int64_t min, int64_t max)
{
    hist__push(h, HIST__RANGE, name, 0, min, max, 0, 0, 0);
}

void hist_drop(hist *h, const char *name, int64_t t_ms)
{
    hist__push(h, HIST__DROP, name, 0, 0, 0, t_ms, 0, 0);
}

void hist_told(hist *h, const char *name, uint64_t who, int64_t first,
               int64_t last, int64_t t_ms, int64_t until_ms, unsigned flags)
{
    hist__push(h, HIST__TOLD, name, who, first, last, t_ms, until_ms, flags);
}

void hist_confirmed(hist *h, const char *name, uint64_t who, int64_t v,
                    int64_t t_ms)
{
    hist__push(h, HIST__CONFIRMED, name, who, v, v, t_ms, 0, 0);
}

void hist_released(hist *h, const char *name, uint64_t who, int64_t v,
                   int64_t t_ms)
{
    hist__push(h, HIST__RELEASED, name, who, v, v, t_ms, 0, 0);
}

void hist_voided(hist *h, const char *name, int64_t v, int64_t t_ms)
{
    hist__push(h, HIST__VOIDED, name, 0, v, v, t_ms, 0, 0);
}

/* ---- an interval treap ---------------------------------------------------
 * Nodes are keyed by (k1, lo, id) and carry [lo, hi]; each keeps the largest
 * hi of its subtree, so "every node with k1 == K overlapping [qlo, qhi]" is
 * found in O(log n + answers).  Node i is item i of the caller's array. */

#define HIST__NIL UINT32_MAX

typedef struct {
    int64_t lo, hi, max_hi;
    uint64_t k1;
    uint32_t prio, left, right;
} hist__tnode;

typedef struct {
    hist__tnode *n;
    size_t cap;
    uint32_t root;
    uint64_t rng;
} hist__treap;

static void hist__treap_init(hist__treap *t, size_t cap, const char *what)
{
    if (cap >= HIST__NIL)
        hist__die("%s: %zu items do not fit the treap", what, cap);
    t->n = hist__calloc(cap, sizeof(*t->n), what);
    t->cap = cap;
    t->root = HIST__NIL;
    t->rng = 0x9e3779b97f4a7c15ull;
}

static bool hist__tless(const hist__tnode *x, uint32_t xid, uint64_t k1,
                        int64_t lo, uint32_t id)
{
    if (x->k1 != k1)
        return x->k1 < k1;
    if (x->lo != lo)
        return x->lo < lo;
    return xid < id;
}

static void hist__tfix(hist__treap *t, uint32_t x)
{
    hist__tnode *n = &t->n[x];
    n->max_hi = n->hi;
    if (n->left != HIST__NIL && t->n[n->left].max_hi > n->max_hi)
        n->max_hi = t->n[n->left].max_hi;
    if (n->right != HIST__NIL && t->n[n->right].max_hi > n->max_hi)
        n->max_hi = t->n[n->right].max_hi;
}

/* *l gets the keys below (k1, lo, id), *r the rest. */
static void hist__tsplit(hist__treap *t, uint32_t x, uint64_t k1, int64_t lo,
                         uint32_t id, uint32_t *l, uint32_t *r)
{
    if (x == HIST__NIL) {
        *l = *r = HIST__NIL;
        return;
    }
    if (hist__tless(&t->n[x], x, k1, lo, id)) {
        hist__tsplit(t, t->n[x].right, k1, lo, id, &t->n[x].right, r);
        *l = x;
    } else {
        hist__tsplit(t, t->n[x].left, k1, lo, id, l, &t->n[x].left);
        *r = x;
    }
    hist__tfix(t, x);
}

/* Every key of a is below every key of b. */
static uint32_t hist__tmerge(hist__treap *t, uint32_t a, uint32_t b)
{
    if (a == HIST__NIL)
        return b;
    if (b == HIST__NIL)
        return a;
    if (t->n[a].prio > t->n[b].prio) {
        t->n[a].right = hist__tmerge(t, t->n[a].right, b);
        hist__tfix(t, a);
        return a;
    }
    t->n[b].left = hist__tmerge(t, a, t->n[b].left);
    hist__tfix(t, b);
    return b;
}

/* Inserts node id (a leaf with its priority set) under x: down the keys,
 * raising max_hi on the way, until id outranks the node there. */
static uint32_t hist__tinsert_at(hist__treap *t, uint32_t x, uint32_t id)
{
    hist__tnode *d = &t->n[id];
    if (x == HIST__NIL)
        return id;
    hist__tnode *n = &t->n[x];
    if (d->prio > n->prio) {
        hist__tsplit(t, x, d->k1, d->lo, id, &d->left, &d->right);
        hist__tfix(t, id);
        return id;
    }
    if (d->hi > n->max_hi)
        n->max_hi = d->hi;
    if (hist__tless(d, id, n->k1, n->lo, x))
        n->left = hist__tinsert_at(t, n->left, id);
    else
        n->right = hist__tinsert_at(t, n->right, id);
    return x;
}

static void hist__tinsert(hist__treap *t, uint32_t id, uint64_t k1,
                          int64_t lo, int64_t hi)
{
    if (id >= t->cap)
        hist__die("treap item %u past its capacity %zu", id, t->cap);
    hist__tnode *n = &t->n[id];
    n->lo = lo;
    n->hi = hi;
    n->max_hi = hi;
    n->k1 = k1;
    t->rng ^= t->rng << 13;
    t->rng ^= t->rng >> 7;
    t->rng ^= t->rng << 17;
    n->prio = (uint32_t)(t->rng >> 32);
    n->left = n->right = HIST__NIL;
    t->root = hist__tinsert_at(t, t->root, id);
}

static uint32_t hist__tremove_at(hist__treap *t, uint32_t x, uint32_t id)
{
    if (x == HIST__NIL)
        hist__die("treap: removing item %u that is not in it", id);
    if (x == id)
        return hist__tmerge(t, t->n[x].left, t->n[x].right);
    const hist__tnode *d = &t->n[id];
    if (hist__tless(d, id, t->n[x].k1, t->n[x].lo, x))
        t->n[x].left = hist__tremove_at(t, t->n[x].left, id);
    else
        t->n[x].right = hist__tremove_at(t, t->n[x].right, id);
    hist__tfix(t, x);
    return x;
}

static void hist__tremove(hist__treap *t, uint32_t id)
{
    t->root = hist__tremove_at(t, t->root, id);
}

/* Calls fn for every node with k1 == k1 whose [lo, hi] meets [qlo, qhi];
 * stops (returning 1) as soon as fn returns nonzero.  fn must not change t. */
typedef int (*hist__tvisit)(void *ctx, uint32_t id);

static int hist__tquery(const hist__treap *t, uint32_t x, uint64_t k1,
                        int64_t qlo, int64_t qhi, hist__tvisit fn, void *ctx)
{
    if (x == HIST__NIL)
        return 0;
    const hist__tnode *n = &t->n[x];
    if (n->max_hi < qlo)
        return 0;
    if (n->k1 >= k1 && hist__tquery(t, n->left, k1, qlo, qhi, fn, ctx))
        return 1;
    if (n->k1 == k1 && n->lo <= qhi && n->hi >= qlo && fn(ctx, x))
        return 1;
    if (n->k1 < k1 || (n->k1 == k1 && n->lo <= qhi))
        return hist__tquery(t, n->right, k1, qlo, qhi, fn, ctx);
    return 0;
}

/* ---- checking ------------------------------------------------------------ */

typedef struct {
    int64_t lo, hi;
    int64_t start_ms, end_ms;  /* the hold as told: [t_ms, until_ms) */
    uint64_t who;
    size_t seq;                /* its event index: call order */
    uint32_t inc;              /* incarnation number, 1 = first CREATE */
    int64_t live_end_ms;       /* end_ms as the calls so far changed it (a
                                * confirm in time: never; a release: then) */
    bool released;             /* a release ended (part of) this hold */
    bool replay;               /* the same caller told the same hold again:
                                * checked like a tell, but no new hold */
} hist__tell;

typedef struct {
    int64_t min, max;
    int64_t top;               /* largest number told in it so far */
    size_t top_tell;           /* the tell that got top */
    bool has_top;
} hist__range;

typedef struct {
    size_t tell;               /* the tell it applies to */
    size_t seq;
    int64_t v, t_ms;
    uint8_t kind;              /* HIST__CONFIRMED or HIST__RELEASED */
} hist__exc;

typedef struct {
    int64_t lo, hi;
    int64_t start_ms, end_ms;  /* end INT64_MAX: final */
    uint64_t who;
    size_t tell;
    size_t seq;                /* the call that began this hold */
} hist__seg;

typedef struct {
    int64_t lo, hi;
    size_t tell;
} hist__bylo;

typedef struct {
    int64_t t_ms;
    uint32_t seg;
    uint8_t insert;            /* 0: the hold ends; 1: it begins */
} hist__tick;

typedef struct {
    size_t v_seq;              /* the void's event index */
    int64_t v, t_ms;
} hist__void;

/* Scratch space for one hist_check, sized once from the whole history. */
typedef struct {
    const hist *h;
    const char *name;
    /* findings */
    size_t count;
    size_t best_seq;           /* call index of the violation in msg */
    char *msg;
    size_t msg_len;
    /* per name, reused */
    hist__tell *tells;
    size_t n_tells;
    hist__range *ranges;
    size_t n_ranges;
    bool disjoint;
    hist__exc *excs;
    size_t n_excs;
    hist__void *voids;
    size_t n_voids;
    hist__seg *segs;
    size_t n_segs, cap_segs;
    hist__bylo *bylo;
    hist__tick *ticks;
    uint8_t *live;             /* per seg: in the sweep treap */
    uint32_t *kill;
    uint32_t *replay;          /* tell index + 1, 0 = empty */
    size_t n_replay;
    hist__treap tt;            /* tells by (who, first); later holds by first */
    hist__treap vt;            /* voided numbers */
} hist__ctx;

static void hist__violation(hist__ctx *c, size_t seq, const char *fmt, ...)
    HIST__PRINTF(3, 4);
static void hist__violation(hist__ctx *c, size_t seq, const char *fmt, ...)
{
    c->count++;
    if (seq >= c->best_seq)
        return;
    c->best_seq = seq;
    if (c->msg_len == 0)
        return;
    int n = snprintf(c->msg, c->msg_len, "'%s' (call #%zu): ", c->name, seq);
    if (n < 0 || (size_t)n >= c->msg_len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg + n, c->msg_len - (size_t)n, fmt, ap);
    va_end(ap);
}

static const char *hist__end_str(char *buf, size_t len, int64_t end_ms)
{
    if (end_ms == INT64_MAX)
        snprintf(buf, len, "final");
    else
        snprintf(buf, len, "%" PRId64 " ms", end_ms);
    return buf;
}

/* The range holding v (the furthest-reaching one if they overlap), or -1. */
static ptrdiff_t hist__range_at(const hist__ctx *c, int64_t v)
{
    const hist__range *r = c->ranges;
    if (c->disjoint) {
        size_t lo = 0, hi = c->n_ranges;  /* first with min > v */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (r[mid].min <= v)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == 0 || r[lo - 1].max < v)
            return -1;
        return (ptrdiff_t)(lo - 1);
    }
    ptrdiff_t best = -1;
    for (size_t i = 0; i < c->n_ranges; i++)
        if (r[i].min <= v && v <= r[i].max &&
            (best < 0 || r[i].max > r[best].max))
            best = (ptrdiff_t)i;
    return best;
}

static void hist__add_range(hist__ctx *c, int64_t min, int64_t max)
{
    size_t lo = 0, hi = c->n_ranges;  /* first with min > new min */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->ranges[mid].min <= min)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0 && c->ranges[lo - 1].max >= min)
        c->disjoint = false;
    if (lo < c->n_ranges && c->ranges[lo].min <= max)
        c->disjoint = false;
    memmove(&c->ranges[lo + 1], &c->ranges[lo],
            (c->n_ranges - lo) * sizeof(*c->ranges));
    c->ranges[lo] = (hist__range){min, max, 0, 0, false};
    c->n_ranges++;
}

static uint64_t hist__mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* An earlier tell of this incarnation to the same caller of exactly these
 * numbers (a replay), else records tell k as the first of its kind. */
static bool hist__is_replay(hist__ctx *c, size_t k)
{
    const hist__tell *t = &c->tells[k];
    uint64_t x = hist__mix(t->who ^ hist__mix((uint64_t)t->lo ^
                          hist__mix((uint64_t)t->hi ^ hist__mix(t->inc))));
    size_t m = c->n_replay - 1;
    for (size_t i = (size_t)x & m;; i = (i + 1) & m) {
        if (c->replay[i] == 0) {
            c->replay[i] = (uint32_t)(k + 1);
            return false;
        }
        const hist__tell *o = &c->tells[c->replay[i] - 1];
        if (o->who == t->who && o->lo == t->lo && o->hi == t->hi &&
            o->inc == t->inc)
            return true;
    }
}

static void hist__check_containment(hist__ctx *c, size_t k)
{
    const hist__tell *t = &c->tells[k];
    int64_t cur = t->lo;
    for (;;) {
        ptrdiff_t r = hist__range_at(c, cur);
        if (r < 0) {
            hist__violation(c, t->seq,
                            "containment: number %" PRId64 " told to caller "
                            "%" PRIu64 " at %" PRId64 " ms (in [%" PRId64
                            ", %" PRId64 "]) is in no range of incarnation %u",
                            cur, t->who, t->start_ms, t->lo, t->hi, t->inc);
            return;
        }
        if (c->ranges[r].max >= t->hi)
            return;
        cur = c->ranges[r].max + 1;
    }
}

/* Strict order per range, and every range's high-water mark. */
static void hist__check_order(hist__ctx *c, size_t k, bool strict)
{
    const hist__tell *t = &c->tells[k];
    bool replay = hist__is_replay(c, k);
    bool reported = false;
    size_t i = 0;
    if (c->disjoint) {  /* maxes ascend too: first range with max >= lo */
        size_t hi = c->n_ranges;
        while (i < hi) {
            size_t mid = i + (hi - i) / 2;
            if (c->ranges[mid].max < t->lo)
                i = mid + 1;
            else
                hi = mid;
        }
    }
    for (; i < c->n_ranges; i++) {
        hist__range *r = &c->ranges[i];
        if (r->min > t->hi) {
            if (c->disjoint)
                break;
            continue;
        }
        if (r->max < t->lo)
            continue;
        int64_t plo = t->lo > r->min ? t->lo : r->min;
        int64_t phi = t->hi < r->max ? t->hi : r->max;
        if (strict && !replay && !reported && r->has_top && plo <= r->top) {
            const hist__tell *o = &c->tells[r->top_tell];
            hist__violation(c, t->seq,
                            "strict order: number %" PRId64 " told to caller "
                            "%" PRIu64 " at %" PRId64 " ms is not above number "
                            "%" PRId64 " told earlier to caller %" PRIu64
                            " at %" PRId64 " ms in range [%" PRId64 ", %"
                            PRId64 "]",
                            plo, t->who, t->start_ms, r->top, o->who,
                            o->start_ms, r->min, r->max);
            reported = true;
        }
        if (!r->has_top || phi > r->top) {
            r->top = phi;
            r->top_tell = k;
            r->has_top = true;
        }
    }
}

static int hist__visit_any(void *ctx, uint32_t id)
{
    *(uint32_t *)ctx = id;
    return 1;
}

static void hist__check_voided(hist__ctx *c, size_t k)
{
    const hist__tell *t = &c->tells[k];
    uint32_t hit = HIST__NIL;
    if (!hist__tquery(&c->vt, c->vt.root, 0, t->lo, t->hi, hist__visit_any,
                      &hit))
        return;
    const hist__void *v = &c->voids[hit];
    hist__violation(c, t->seq,
                    "void: number %" PRId64 " told to caller %" PRIu64
                    " at %" PRId64 " ms (in [%" PRId64 ", %" PRId64 "]) was "
                    "voided at %" PRId64 " ms (call #%zu)",
                    v->v, t->who, t->start_ms, t->lo, t->hi, v->t_ms,
                    v->v_seq);
}

typedef struct {
    uint32_t latest;
} hist__latest;

/* Finds who's earlier tell of exactly [lo, hi] in incarnation inc whose
 * hold still stands at t_ms (not released, not lapsed): a tell repeating
 * it (a KEY replay) restates that hold rather than starting another. */
typedef struct {
    const hist__ctx *c;
    int64_t lo, hi, t_ms;
    uint32_t inc;
    uint32_t found;
} hist__same;

static int hist__visit_same(void *ctx, uint32_t id)
{
    hist__same *w = ctx;
    const hist__tell *t = &w->c->tells[id];
    if (t->lo == w->lo && t->hi == w->hi && t->inc == w->inc && !t->released &&
        !t->replay && w->t_ms < t->live_end_ms) {
        w->found = id;
        return 1;
    }
    return 0;
}

static int hist__visit_latest(void *ctx, uint32_t id)
{
    hist__latest *l = ctx;
    if (l->latest == HIST__NIL || id > l->latest)
        l->latest = id;
    return 0;
}

/* A release ends the caller's hold that stands at its time: the latest
 * such tell (an earlier one that a confirm made final is still held). */
typedef struct {
    const hist__tell *tells;
    int64_t t_ms;
    uint32_t latest;
} hist__live;

static int hist__visit_live(void *ctx, uint32_t id)
{
    hist__live *l = ctx;
    if (l->t_ms < l->tells[id].live_end_ms && (l->latest == HIST__NIL || id > l->latest))
        l->latest = id;
    return 0;
}

/* Pass 1: the calls in order. */
static void hist__walk(hist__ctx *c, const size_t *evs, size_t n)
{
    const hist__event *ev = c->h->ev;
    bool live = false;
    uint32_t inc = 0;
    for (size_t j = 0; j < n; j++) {
        size_t seq = evs[j];
        const hist__event *e = &ev[seq];
        switch (e->kind) {
        case HIST__CREATE:
            if (live)
                hist__violation(c, seq,
                                "malformed: CREATE at %" PRId64 " ms while "
                                "incarnation %u is live (no DROP)",
                                e->t_ms, inc);
            inc++;
            live = true;
            c->n_ranges = 0;
            c->disjoint = true;
            break;
        case HIST__RANGE:
            if (!live)
                hist__violation(c, seq,
                                "malformed: range [%" PRId64 ", %" PRId64
                                "] with no live incarnation",
                                e->a, e->b);
            else if (e->a > e->b)
                hist__violation(c, seq,
                                "malformed: range [%" PRId64 ", %" PRId64
                                "] has min > max",
                                e->a, e->b);
            else
                hist__add_range(c, e->a, e->b);
            break;
        case HIST__DROP:
            if (!live)
                hist__violation(c, seq,
                                "malformed: DROP at %" PRId64 " ms with no "
                                "live incarnation",
                                e->t_ms);
            live = false;
            break;
        case HIST__TOLD: {
            if (e->a > e->b) {
                hist__violation(c, seq,
                                "malformed: caller %" PRIu64 " told [%" PRId64
                                ", %" PRId64 "] (first > last) at %" PRId64
                                " ms",
                                e->who, e->a, e->b, e->t_ms);
                break;
            }
            if (!live) {
                hist__violation(c, seq,
                                "dropped: number %" PRId64 " (in [%" PRId64
                                ", %" PRId64 "]) told to caller %" PRIu64
                                " at %" PRId64 " ms %s",
                                e->a, e->a, e->b, e->who, e->t_ms,
                                inc == 0 ? "but the name was never created"
                                         : "after its DROP (no new CREATE)");
                break;
            }
            hist__same same = {c, e->a, e->b, e->t_ms, inc, HIST__NIL};
            hist__tquery(&c->tt, c->tt.root, e->who, e->a, e->b, hist__visit_same, &same);
            size_t k = c->n_tells++;
            c->tells[k] = (hist__tell){e->a,   e->b,        e->t_ms, e->until_ms, e->who,
                                       seq,    inc,         e->until_ms,
                                       false,  same.found != HIST__NIL};
            hist__check_containment(c, k);
            hist__check_order(c, k, (e->flags & HIST_STRICT) != 0);
            hist__check_voided(c, k);
            if (same.found == HIST__NIL) {
                hist__tinsert(&c->tt, (uint32_t)k, e->who, e->a, e->b);
            } else if (e->until_ms == HIST_FINAL_MS &&
                       c->tells[same.found].end_ms != HIST_FINAL_MS) {
                /* told final what it held reserved (NEXT KEY after RESERVE KEY) */
                c->excs[c->n_excs++] =
                    (hist__exc){same.found, seq, e->a, e->t_ms, HIST__CONFIRMED};
                c->tells[same.found].live_end_ms = HIST_FINAL_MS;
            }
            break;
        }
        case HIST__CONFIRMED:
        case HIST__RELEASED: {
            hist__latest l = {HIST__NIL};
            hist__live lv = {c->tells, e->t_ms, HIST__NIL};
            if (e->kind == HIST__RELEASED) {
                hist__tquery(&c->tt, c->tt.root, e->who, e->a, e->a, hist__visit_live, &lv);
            }
            l.latest = lv.latest;
            if (l.latest == HIST__NIL) {
                hist__tquery(&c->tt, c->tt.root, e->who, e->a, e->a,
                             hist__visit_latest, &l);
            }
            if (l.latest == HIST__NIL) {
                if (e->kind == HIST__CONFIRMED)
                    hist__violation(c, seq,
                                    "confirm: number %" PRId64 " confirmed "
                                    "for caller %" PRIu64 " at %" PRId64
                                    " ms, which was never told it",
                                    e->a, e->who, e->t_ms);
                break;  /* a release of nothing held changes nothing */
            }
            c->excs[c->n_excs++] =
                (hist__exc){l.latest, seq, e->a, e->t_ms, e->kind};
            hist__tell *lt = &c->tells[l.latest];
            if (e->kind == HIST__RELEASED) {
                lt->released = true;
                lt->live_end_ms = e->t_ms < lt->live_end_ms ? e->t_ms : lt->live_end_ms;
            } else if (e->t_ms < lt->live_end_ms || lt->live_end_ms == lt->end_ms) {
                lt->live_end_ms = HIST_FINAL_MS; /* final, in time or anew */
            }
            break;
        }
        case HIST__VOIDED: {
            size_t k = c->n_voids++;
            c->voids[k] = (hist__void){seq, e->a, e->t_ms};
            hist__tinsert(&c->vt, (uint32_t)k, 0, e->a, e->a);
            break;
        }
        default:
            hist__die("unknown event kind %u", e->kind);
        }
    }
}

static int hist__cmp_bylo(const void *pa, const void *pb)
{
    const hist__bylo *a = pa, *b = pb;
    if (a->lo != b->lo)
        return a->lo < b->lo ? -1 : 1;
    return a->tell < b->tell ? -1 : a->tell > b->tell;
}

/* No number told in two incarnations: sorted by first number, keep the
 * furthest-reaching earlier tell, and the furthest-reaching one of another
 * incarnation than that. */
static void hist__check_incarnations(hist__ctx *c)
{
    for (size_t i = 0; i < c->n_tells; i++)
        c->bylo[i] = (hist__bylo){c->tells[i].lo, c->tells[i].hi, i};
    qsort(c->bylo, c->n_tells, sizeof(*c->bylo), hist__cmp_bylo);
    size_t b1 = SIZE_MAX, b2 = SIZE_MAX;  /* indices into bylo */
    for (size_t i = 0; i < c->n_tells; i++) {
        const hist__bylo *x = &c->bylo[i];
        const hist__tell *tx = &c->tells[x->tell];
        size_t other = SIZE_MAX;
        if (b1 != SIZE_MAX && c->tells[c->bylo[b1].tell].inc != tx->inc)
            other = b1;
        else if (b2 != SIZE_MAX)
            other = b2;
        if (other != SIZE_MAX && c->bylo[other].hi >= x->lo) {
            const hist__tell *a = &c->tells[c->bylo[other].tell];
            const hist__tell *o = a->seq < tx->seq ? a : tx;
            const hist__tell *n = a->seq < tx->seq ? tx : a;
            hist__violation(c, n->seq,
                            "uniqueness across incarnations: number %" PRId64
                            " told to caller %" PRIu64 " at %" PRId64
                            " ms in incarnation %u was already told to "
                            "caller %" PRIu64 " at %" PRId64
                            " ms in incarnation %u",
                            x->lo, n->who, n->start_ms, n->inc, o->who,
                            o->start_ms, o->inc);
        }
        if (b1 == SIZE_MAX || x->hi > c->bylo[b1].hi) {
            if (b1 != SIZE_MAX && c->tells[c->bylo[b1].tell].inc != tx->inc)
                b2 = b1;
            b1 = i;
        } else if (c->tells[c->bylo[b1].tell].inc != tx->inc &&
                   (b2 == SIZE_MAX || x->hi > c->bylo[b2].hi)) {
            b2 = i;
        }
    }
}

static int hist__cmp_exc(const void *pa, const void *pb)
{
    const hist__exc *a = pa, *b = pb;
    if (a->tell != b->tell)
        return a->tell < b->tell ? -1 : 1;
    if (a->v != b->v)
        return a->v < b->v ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void hist__seg_add(hist__ctx *c, size_t tell, int64_t lo, int64_t hi,
                          int64_t start_ms, int64_t end_ms, size_t seq)
{
    if (c->n_segs >= c->cap_segs)
        hist__die("hold segments past their bound %zu", c->cap_segs);
    c->segs[c->n_segs++] = (hist__seg){lo,  hi,   start_ms, end_ms,
                                       c->tells[tell].who, tell, seq};
}

/* Each tell's hold, split where a confirm or release changed one number. */
static void hist__build_segs(hist__ctx *c)
{
    qsort(c->excs, c->n_excs, sizeof(*c->excs), hist__cmp_exc);
    c->n_segs = 0;
    size_t j = 0;
    for (size_t k = 0; k < c->n_tells; k++) {
        const hist__tell *t = &c->tells[k];
        if (t->replay) {
            continue; /* its hold is the one it restates (no exception names it) */
        }
        int64_t cur = t->lo;
        bool done = false;
        while (j < c->n_excs && c->excs[j].tell == k) {
            int64_t v = c->excs[j].v;
            if (v > cur)
                hist__seg_add(c, k, cur, v - 1, t->start_ms, t->end_ms,
                              t->seq);
            int64_t s = t->start_ms, e = t->end_ms;
            size_t seq = t->seq;
            for (; j < c->n_excs && c->excs[j].tell == k && c->excs[j].v == v;
                 j++) {
                const hist__exc *x = &c->excs[j];
                if (x->kind == HIST__RELEASED) {
                    int64_t end = x->t_ms > s ? x->t_ms : s;
                    if (end < e)
                        e = end;
                } else if (x->t_ms < e) {
                    e = INT64_MAX;      /* confirmed in time: final */
                } else {                /* after it lapsed: final from now */
                    hist__seg_add(c, k, v, v, s, e, seq);
                    s = x->t_ms;
                    e = INT64_MAX;
                    seq = x->seq;
                }
            }
            hist__seg_add(c, k, v, v, s, e, seq);
            if (v == t->hi) {
                done = true;
            } else {
                cur = v + 1;
            }
        }
        if (!done)
            hist__seg_add(c, k, cur, t->hi, t->start_ms, t->end_ms, t->seq);
    }
}

static int hist__cmp_tick(const void *pa, const void *pb)
{
    const hist__tick *a = pa, *b = pb;
    if (a->t_ms != b->t_ms)
        return a->t_ms < b->t_ms ? -1 : 1;
    if (a->insert != b->insert)
        return a->insert < b->insert ? -1 : 1;  /* ends first: [start, end) */
    return a->seg < b->seg ? -1 : a->seg > b->seg;
}

typedef struct {
    const hist__ctx *c;
    uint32_t s;
    uint32_t conflict;
    unsigned n_conflicts;
    bool subsumed;
    size_t n_kill;
    uint32_t *kill;
} hist__sweep;

static int hist__visit_hold(void *ctx, uint32_t id)
{
    hist__sweep *w = ctx;
    const hist__seg *s = &w->c->segs[w->s], *o = &w->c->segs[id];
    if (o->who != s->who) {  /* keep the earliest of a few conflicts */
        if (w->conflict == HIST__NIL || o->seq < w->c->segs[w->conflict].seq)
            w->conflict = id;
        return ++w->n_conflicts >= 16;
    }
    /* The same caller again (a replay): no conflict; keep the wider hold. */
    if (o->lo <= s->lo && o->hi >= s->hi && o->end_ms >= s->end_ms) {
        w->subsumed = true;
        return 1;
    }
    if (s->lo <= o->lo && s->hi >= o->hi && s->end_ms >= o->end_ms)
        w->kill[w->n_kill++] = id;
    return 0;
}

/* No number held by two callers at once: sweep time, keeping the holds live
 * at each moment in an interval treap over numbers. */
static void hist__check_holds(hist__ctx *c)
{
    size_t n_ticks = 0;
    for (size_t i = 0; i < c->n_segs; i++) {
        const hist__seg *s = &c->segs[i];
        c->live[i] = 0;
        if (s->start_ms >= s->end_ms)
            continue;  /* empty: lapsed or released as it began */
        c->ticks[n_ticks++] = (hist__tick){s->start_ms, (uint32_t)i, 1};
        if (s->end_ms != INT64_MAX)
            c->ticks[n_ticks++] = (hist__tick){s->end_ms, (uint32_t)i, 0};
    }
    qsort(c->ticks, n_ticks, sizeof(*c->ticks), hist__cmp_tick);
    c->tt.root = HIST__NIL;
    for (size_t i = 0; i < n_ticks; i++) {
        uint32_t id = c->ticks[i].seg;
        const hist__seg *s = &c->segs[id];
        if (!c->ticks[i].insert) {
            if (c->live[id]) {
                hist__tremove(&c->tt, id);
                c->live[id] = 0;
            }
            continue;
        }
        hist__sweep w = {c, id, HIST__NIL, 0, false, 0, c->kill};
        hist__tquery(&c->tt, c->tt.root, 0, s->lo, s->hi, hist__visit_hold,
                     &w);
        if (w.conflict != HIST__NIL) {
            const hist__seg *o = &c->segs[w.conflict];
            const hist__seg *a = o->seq < s->seq ? o : s;
            const hist__seg *b = o->seq < s->seq ? s : o;
            const hist__tell *ta = &c->tells[a->tell], *tb = &c->tells[b->tell];
            char ea[32], eb[32];
            hist__violation(c, b->seq,
                            "uniqueness: number %" PRId64 " held by caller "
                            "%" PRIu64 " from %" PRId64 " ms to %s (told [%"
                            PRId64 ", %" PRId64 "] at %" PRId64 " ms) and by "
                            "caller %" PRIu64 " from %" PRId64 " ms to %s "
                            "(told [%" PRId64 ", %" PRId64 "] at %" PRId64
                            " ms)",
                            s->lo > o->lo ? s->lo : o->lo, a->who, a->start_ms,
                            hist__end_str(ea, sizeof(ea), a->end_ms), ta->lo,
                            ta->hi, ta->start_ms, b->who, b->start_ms,
                            hist__end_str(eb, sizeof(eb), b->end_ms), tb->lo,
                            tb->hi, tb->start_ms);
        }
        if (w.subsumed)
            continue;
        for (size_t k = 0; k < w.n_kill; k++) {
            hist__tremove(&c->tt, w.kill[k]);
            c->live[w.kill[k]] = 0;
        }
        hist__tinsert(&c->tt, id, 0, s->lo, s->hi);
        c->live[id] = 1;
    }
}

int hist_check(const hist *h, char *msg, size_t msg_len)
{
    if (h == NULL)
        hist__die("hist_check(NULL)");
    if (msg == NULL)
        msg_len = 0;
    /* Group the calls by name (stable: call order within a name). */
    size_t nn = h->n_names;
    size_t *off = hist__calloc(nn + 1, sizeof(*off), "name offsets");
    size_t *n_told = hist__calloc(nn, sizeof(*n_told), "name tells");
    size_t tot_told = 0, tot_range = 0, tot_exc = 0, tot_void = 0;
    size_t max_told = 0;
    for (size_t i = 0; i < h->n_ev; i++) {
        const hist__event *e = &h->ev[i];
        off[e->name + 1]++;
        switch (e->kind) {
        case HIST__TOLD:
            tot_told++;
            tot_exc++; /* a replay may turn its hold final */
            if (++n_told[e->name] > max_told)
                max_told = n_told[e->name];
            break;
        case HIST__RANGE:
            tot_range++;
            break;
        case HIST__CONFIRMED:
        case HIST__RELEASED:
            tot_exc++;
            break;
        case HIST__VOIDED:
            tot_void++;
            break;
        default:
            break;
        }
    }
    for (size_t i = 0; i < nn; i++)
        off[i + 1] += off[i];
    size_t *order = hist__calloc(h->n_ev, sizeof(*order), "call order");
    size_t *fill = hist__calloc(nn + 1, sizeof(*fill), "name fill");
    memcpy(fill, off, (nn + 1) * sizeof(*fill));
    for (size_t i = 0; i < h->n_ev; i++)
        order[fill[h->ev[i].name]++] = i;
    free(fill);

    hist__ctx c;
    memset(&c, 0, sizeof(c));
    c.h = h;
    c.best_seq = SIZE_MAX;
    c.msg = msg;
    c.msg_len = msg_len;
    c.tells = hist__calloc(tot_told, sizeof(*c.tells), "tells");
    c.ranges = hist__calloc(tot_range, sizeof(*c.ranges), "ranges");
    c.excs = hist__calloc(tot_exc, sizeof(*c.excs), "confirms/releases");
    c.voids = hist__calloc(tot_void, sizeof(*c.voids), "voids");
    c.cap_segs = tot_told + 3 * tot_exc;  /* a number's split adds <= 3 */
    c.segs = hist__calloc(c.cap_segs, sizeof(*c.segs), "holds");
    c.bylo = hist__calloc(tot_told, sizeof(*c.bylo), "tells by number");
    c.ticks = hist__calloc(2 * c.cap_segs, sizeof(*c.ticks), "hold ticks");
    c.live = hist__calloc(c.cap_segs, sizeof(*c.live), "live holds");
    c.kill = hist__calloc(c.cap_segs, sizeof(*c.kill), "replaced holds");
    size_t n_replay_max = 16;
    while (n_replay_max < 2 * max_told)
        n_replay_max *= 2;
    c.replay = hist__calloc(n_replay_max, sizeof(*c.replay), "replay table");
    hist__treap_init(&c.tt, c.cap_segs > tot_told ? c.cap_segs : tot_told,
                     "hold treap");
    hist__treap_init(&c.vt, tot_void, "void treap");

    for (size_t i = 0; i < nn; i++) {
        c.name = h->names[i];
        c.n_tells = c.n_ranges = c.n_excs = c.n_voids = 0;
        c.disjoint = true;
        c.tt.root = c.vt.root = HIST__NIL;
        c.n_replay = 16;
        while (c.n_replay < 2 * n_told[i])
            c.n_replay *= 2;
        memset(c.replay, 0, c.n_replay * sizeof(*c.replay));
        hist__walk(&c, order + off[i], off[i + 1] - off[i]);
        hist__check_incarnations(&c);
        hist__build_segs(&c);
        hist__check_holds(&c);
    }

    free(c.tells);
    free(c.ranges);
    free(c.excs);
    free(c.voids);
    free(c.segs);
    free(c.bylo);
    free(c.ticks);
    free(c.live);
    free(c.kill);
    free(c.replay);
    free(c.tt.n);
    free(c.vt.n);
    free(order);
    free(n_told);
    free(off);
    if (c.count == 0 && msg_len != 0)
        snprintf(msg, msg_len, "ok");
    return c.count > INT_MAX ? INT_MAX : (int)c.count;
}

#endif /* SEQD_TESTS_UNIT_HISTORY_C */
