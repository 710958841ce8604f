/*
 * generate.c - the synthetic data set (see generate.h for the model).
 *
 * gen_model_new() draws every per-user and per-movie parameter: latent
 * vectors, biases, release years, popularity (movies are kept in
 * popularity order, which makes sampling one exp() and keeps the popular
 * ones in cache) and the exact number of ratings of each user.
 * gen_model_write() streams movies, links and users from the model, then
 * makes ratings and tags one user at a time (pick movies, score them, sort
 * by movie id) into 1 MiB buffers that go out with write(2).
 *
 * Each user draws from a random stream of its own (seed, user id), so the
 * output depends on the seed alone and users could be made in parallel.
 */
#include "generate.h"
#include "../util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/banned.h"

#define NGENRES 18

#define POP_OFFSET 30.0   /* movie popularity ~ 1 / (rank + POP_OFFSET), see sample_rank() */
#define WATCH_BETA 0.7f   /* watch weight = popularity * exp(WATCH_BETA * clip(affinity)) */
#define WATCH_CLIP 2.0f   /* affinity is clipped to +-WATCH_CLIP for watching */
#define HEAVY_DIV 10      /* users with over movies/HEAVY_DIV ratings use the O(movies) pick */
#define RATE_MU 3.0       /* before the affinity of watched movies (~+0.5) is added */
#define RATE_GAMMA 0.6    /* weight of the affinity in the score */
#define RATE_NOISE 0.7
#define MIN_PER_USER 20   /* real sets hold >= 20 ratings per user */
#define PREFETCH 8        /* movie proposals drawn ahead of use */

#define T_START 820454400LL  /* 1996-01-01 */
#define T_END 1701302400LL   /* 2023-11-30 */
#define DAY 86400LL

#define OUT_CAP (1u << 20)
#define OUT_SLACK 4096       /* the most one record may take */

enum { USER_HALF = 1, USER_TAGGER = 2 };
enum { MOVIE_NOYEAR = 1 };

enum stream {
    STREAM_GENRES = 1,
    STREAM_MOVIES,
    STREAM_USERS,
    STREAM_COUNTS,
    STREAM_LINKS,
    STREAM_TITLE = 0x10,   /* | id << 8 */
    STREAM_PROFILE = 0x11, /* | id << 8 */
    STREAM_RATE = 0x12     /* | id << 8 */
};

/* ------------------------------------------------------------------ */
/* Random numbers: xoshiro256** seeded by splitmix64                   */

struct rng {
    uint64_t s[4];
    double spare;
    int has_spare;
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed;
    x = splitmix64(&x) ^ (stream * 0xD1B54A32D192ED03ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    r->has_spare = 0;
    r->spare = 0;
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* [0, 1) */
static inline double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* [0, n) for n < 2^53 */
static inline uint64_t rng_below(struct rng *r, uint64_t n)
{
    return (uint64_t)(rng_unit(r) * (double)n);
}

static double rng_normal(struct rng *r)
{
    double u, v, s;
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    do {
        u = 2 * rng_unit(r) - 1;
        v = 2 * rng_unit(r) - 1;
        s = u * u + v * v;
    } while (s >= 1 || s == 0);
    s = sqrt(-2 * log(s) / s);
    r->spare = v * s;
    r->has_spare = 1;
    return u * s;
}

/* Picks an index from w[0..n) in proportion to the weights. */
static int rng_weighted(struct rng *r, const double *w, int n)
{
    double total = 0, x;
    for (int i = 0; i < n; i++)
        total += w[i];
    x = rng_unit(r) * total;
    for (int i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

/* ------------------------------------------------------------------ */
/* Word lists                                                          */

static const char *genre_names[NGENRES] = {
    "Action", "Adventure", "Animation", "Children", "Comedy",  "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical",
    "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"};

/* How common each genre is in ml-25m (thousands of movies). */
static const double genre_weight[NGENRES] = {7.3, 4.1, 2.9, 2.9, 16.9, 5.3, 5.6, 25.6, 2.7,
                                             0.4, 6.0, 1.1, 2.9, 7.7,  3.6, 8.7, 1.9, 1.4};

/* How much better than average each genre is rated. */
static const double genre_bias[NGENRES] = {-0.10, 0.0, 0.10, -0.10, -0.10, 0.10, 0.30, 0.15, -0.05,
                                           0.35,  -0.30, 0.0, 0.05, -0.05, -0.05, 0.0, 0.30, 0.05};

static const char *genre_tags[NGENRES][3] = {
    {"explosions", "car chase", "martial arts"},
    {"epic", "treasure hunt", "journey"},
    {"beautiful animation", "hand-drawn", "pixar"},
    {"family", "kids", "talking animals"},
    {"hilarious", "satire", "witty"},
    {"heist", "mafia", "police"},
    {"informative", "history", "nature"},
    {"emotional", "tearjerker", "character study"},
    {"magic", "dragons", "fairy tale"},
    {"femme fatale", "noir", "black and white"},
    {"gore", "creepy", "haunted house"},
    {"singing", "dance", "broadway"},
    {"whodunit", "suspense", "clever plot"},
    {"love story", "romantic", "chemistry"},
    {"space", "time travel", "dystopia"},
    {"tense", "psychological", "conspiracy"},
    {"world war ii", "battle", "anti-war"},
    {"cowboys", "gunfight", "frontier"}};

static const char *generic_tags[] = {
    "classic", "overrated", "underrated", "great soundtrack", "beautiful cinematography",
    "twist ending", "based on a book", "slow", "funny", "great dialogue", "atmospheric",
    "visually appealing", "predictable", "must see", "boring", "cult film", "quirky",
    "thought-provoking", "good acting", "bad acting", "remake", "sequel", "true story",
    "nostalgic", "long, but worth it", "funny, but sad", "dark, gritty", "weird, wonderful",
    "Oscar (Best Picture)", "want to see again"};
#define NGENERIC_TAGS (int)(sizeof(generic_tags) / sizeof(*generic_tags))

static const char *adjectives[] = {
    "Silent", "Broken", "Golden", "Hidden", "Last", "Lost", "Dark", "Bright", "Crimson",
    "Electric", "Endless", "Wild", "Quiet", "Burning", "Frozen", "Secret", "Little", "Long",
    "Blue", "Savage", "Distant", "Hollow", "Iron", "Velvet", "Midnight", "Sweet", "Bitter",
    "Final", "Forgotten", "Restless", "Shattered", "Eternal", "Wicked", "Gentle", "Lonely",
    "Brave", "Strange", "Sudden", "Perfect", "Fading", "Open", "Empty", "Ancient", "Other"};
#define NADJ (int)(sizeof(adjectives) / sizeof(*adjectives))

static const char *nouns[] = {
    "River", "Dawn", "Garden", "Night", "City", "Heart", "Road", "Summer", "Winter", "Shadow",
    "Storm", "Kingdom", "Island", "Mirror", "Station", "Promise", "Dream", "Fire", "Harbor",
    "Empire", "Letter", "Stranger", "Highway", "Forest", "Moon", "Sky", "Machine", "Ghost",
    "Detective", "Soldier", "Daughter", "Brother", "Witness", "Game", "Season", "Voyage",
    "Echo", "Frontier", "Planet", "Wedding", "Song", "House", "Valley", "Affair", "Escape",
    "Hunter", "Angel", "Queen", "Horizon", "Ocean", "Orchard", "Lighthouse", "Engine", "Alibi"};
#define NNOUN (int)(sizeof(nouns) / sizeof(*nouns))

static const char *names[] = {"Jack", "Emma", "Max", "Lucy", "Oscar", "Nora",
                              "Leo",  "Vera", "Sam", "Ruby", "Hugo", "Ada"};
#define NNAME (int)(sizeof(names) / sizeof(*names))

/* ml-100k's occupations and how many of its 943 users hold each. */
static const char *occupations[] = {
    "administrator", "artist", "doctor", "educator", "engineer", "entertainment", "executive",
    "healthcare", "homemaker", "lawyer", "librarian", "marketing", "none", "other",
    "programmer", "retired", "salesman", "scientist", "student", "technician", "writer"};
static const double occupation_weight[] = {79, 28, 7, 95, 67, 18, 32, 16, 7, 12, 51,
                                           26, 9, 105, 66, 14, 12, 31, 196, 27, 45};
#define NOCC (int)(sizeof(occupations) / sizeof(*occupations))
#define OCC_RETIRED 15
#define OCC_STUDENT 18

/* ------------------------------------------------------------------ */
/* The model                                                           */

/* A movie's parameters in one cache line. The array is in popularity
 * order, so the movies that most picks hit stay close together. */
struct gmovie {
    float vec[GEN_DIMS];
    float bias;
    float logpop;    /* log of its share of the popularity */
    int64_t release; /* unix seconds */
    int32_t id;      /* movie id - 1 */
    uint32_t genres; /* bit g: genre g; 0: (no genres listed) */
    int16_t year;
    uint8_t flags;   /* MOVIE_* */
};

struct gen_model {
    struct gen_options opt;
    int64_t nu, nm;
    float gvec[NGENRES][GEN_DIMS]; /* genre directions in taste space */
    float *uvec;       /* (nu, GEN_DIMS), scaled by 1/sqrt(GEN_DIMS) */
    float *ubias;      /* (nu) */
    int32_t *ucount;   /* (nu) ratings each user gets */
    uint8_t *uflags;   /* (nu) USER_* */
    struct gmovie *movies; /* (nm) by popularity: movies[0] is the most watched */
    int32_t *rank_of;  /* (nm) movie id - 1 -> index into movies */
    double pop_l;      /* log((nm + POP_OFFSET) / POP_OFFSET) */
    int32_t maxcount;  /* the largest ucount */
    double tag_prob;   /* chance that a tagger tags a rated movie */
};

static inline float dot(const float *a, const float *b)
{
    float s = 0;
    for (int i = 0; i < GEN_DIMS; i++)
        s += a[i] * b[i];
    return s;
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void gen_options_init(struct gen_options *o)
{
    memset(o, 0, sizeof(*o));
    o->users = GEN_DEFAULT_USERS;
    o->movies = GEN_DEFAULT_MOVIES;
    o->ratings = GEN_DEFAULT_RATINGS;
    o->seed = GEN_DEFAULT_SEED;
}

int gen_options_check(const struct gen_options *o, struct error *err)
{
    if (o->users < 1)
        return error_set(err, ERR_USAGE, "--users %lld: need at least 1 user", (long long)o->users);
    if (o->users > GEN_MAX_USERS)
        return error_set(err, ERR_USAGE, "--users %lld: at most %lld users", (long long)o->users,
                         GEN_MAX_USERS);
    if (o->movies < GEN_MIN_MOVIES)
        return error_set(err, ERR_USAGE, "--movies %lld: need at least %d movies",
                         (long long)o->movies, GEN_MIN_MOVIES);
    if (o->movies > GEN_MAX_MOVIES)
        return error_set(err, ERR_USAGE, "--movies %lld: at most %lld movies",
                         (long long)o->movies, GEN_MAX_MOVIES);
    if (o->ratings < o->users)
        return error_set(err, ERR_USAGE,
                         "--ratings %lld is fewer than --users %lld: every user rates at least "
                         "one movie",
                         (long long)o->ratings, (long long)o->users);
    if (o->ratings > GEN_MAX_RATINGS)
        return error_set(err, ERR_USAGE, "--ratings %lld: at most %lld ratings",
                         (long long)o->ratings, GEN_MAX_RATINGS);
    if (o->ratings > o->users * o->movies / 2)
        return error_set(err, ERR_USAGE,
                         "--ratings %lld is more than half of users x movies (%lld): "
                         "add users or movies",
                         (long long)o->ratings, (long long)(o->users * o->movies / 2));
    return 0;
}

void gen_model_free(struct gen_model *m)
{
    if (!m)
        return;
    free(m->uvec);
    free(m->ubias);
    free(m->ucount);
    free(m->uflags);
    free(m->movies);
    free(m->rank_of);
    free(m);
}

/* p[0..n) = a random order of 0..n-1 (Fisher-Yates). */
static void permute(struct rng *r, int32_t *p, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        p[i] = (int32_t)i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)rng_below(r, (uint64_t)i + 1);
        int32_t t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
}

/* k distinct genres, as common as in ml-25m, as a bit mask. */
static uint32_t pick_genres(struct rng *r, int k)
{
    double w[NGENRES];
    uint32_t mask = 0;
    memcpy(w, genre_weight, sizeof(w));
    for (int i = 0; i < k; i++) {
        int g = rng_weighted(r, w, NGENRES);
        mask |= 1u << g;
        w[g] = 0;
    }
    return mask;
}

/* v = a * (sum of the genre vectors in mask) / sqrt(count) + b * noise */
static void taste_vector(float *v, const struct gen_model *m, struct rng *r, uint32_t mask,
                         double a, double b)
{
    int n = __builtin_popcount(mask);
    double g[GEN_DIMS] = {0};
    for (int k = 0; k < NGENRES; k++)
        if (mask & (1u << k))
            for (int d = 0; d < GEN_DIMS; d++)
                g[d] += m->gvec[k][d];
    if (n == 0) {
        a = 0;
        b = 1;
    }
    for (int d = 0; d < GEN_DIMS; d++)
        v[d] = (float)((n ? a * g[d] / sqrt((double)n) : 0) + b * rng_normal(r));
}

/* Popularity is Zipf over ranks with a continuous twist: rank r holds
 * the mass of 1/(x + POP_OFFSET) on [r, r + 1), so inverting the integral
 * samples a rank exactly with one exp(). */
static inline double rank_logpop(const struct gen_model *m, int64_t r)
{
    return log(log((r + 1 + POP_OFFSET) / (r + POP_OFFSET)) / m->pop_l);
}

static inline uint32_t sample_rank(const struct gen_model *m, struct rng *r)
{
    double x = POP_OFFSET * exp(rng_unit(r) * m->pop_l) - POP_OFFSET;
    uint32_t k = x <= 0 ? 0 : (uint32_t)x;
    return k < (uint32_t)m->nm ? k : (uint32_t)m->nm - 1;
}

static void build_movies(struct gen_model *m)
{
    struct rng r;

    rng_seed(&r, m->opt.seed, STREAM_GENRES);
    for (int k = 0; k < NGENRES; k++)
        for (int d = 0; d < GEN_DIMS; d++)
            m->gvec[k][d] = (float)rng_normal(&r);

    /* A random ranking of the movies by popularity. */
    rng_seed(&r, m->opt.seed, STREAM_MOVIES);
    permute(&r, m->rank_of, m->nm);
    m->pop_l = log((m->nm + POP_OFFSET) / POP_OFFSET);

    for (int64_t i = 0; i < m->nm; i++) {
        struct gmovie *mv = &m->movies[m->rank_of[i]];
        double u = rng_unit(&r), gb = 0, lp;
        int k = u < 0.02 ? 0 : u < 0.41 ? 1 : u < 0.76 ? 2 : 3;
        uint32_t mask = pick_genres(&r, k);
        /* Every movie is out before the ratings start (as in ml-100k): a
         * release inside a user's window would push its rating to the end
         * of that user's history and make "the latest rating" a
         * systematically new, unpopular movie. */
        int64_t year = 1995 - (int64_t)(-log(1 - rng_unit(&r)) * 18);

        if (year < 1902)
            year = 1902 + (int64_t)rng_below(&r, 40);
        memset(mv, 0, sizeof(*mv));
        mv->id = (int32_t)i;
        mv->genres = mask;
        mv->year = (int16_t)year;
        mv->flags = rng_unit(&r) < 0.003 ? MOVIE_NOYEAR : 0;
        mv->release = days_from_civil(year, 1, 1) * DAY + (int64_t)rng_below(&r, 300) * DAY +
                      (int64_t)rng_below(&r, DAY);
        taste_vector(mv->vec, m, &r, mask, 0.75, 0.66);
        for (int g = 0; g < NGENRES; g++)
            if (mask & (1u << g))
                gb += genre_bias[g] / k;
        mv->logpop = (float)rank_logpop(m, m->rank_of[i]);
        /* popular movies are rated a little higher */
        lp = mv->logpop + log((double)m->nm);
        mv->bias = (float)(gb + 0.3 * rng_normal(&r) + 0.05 * (lp < -3 ? -3 : lp > 6 ? 6 : lp));
    }
}

/* Splits the ratings among users: everyone gets base = min(20, R/N), the
 * rest goes by a Zipf law over a random ranking of the users, capped at
 * half the movies; the total is exactly R. */
static int build_counts(struct gen_model *m)
{
    struct rng r;
    int64_t nu = m->nu, base, capx, extra, rest, k, sum = 0, left;
    double kz = nu / 1000.0 < 1 ? 1 : nu / 1000.0, wsuf = 0;
    int32_t *user_of_rank, *x;

    base = m->opt.ratings / nu;
    if (base > MIN_PER_USER)
        base = MIN_PER_USER;
    capx = (m->nm + 1) / 2 - base;
    extra = m->opt.ratings - base * nu;

    rng_seed(&r, m->opt.seed, STREAM_COUNTS);
    user_of_rank = malloc((size_t)nu * sizeof(*user_of_rank));
    x = calloc((size_t)nu, sizeof(*x)); /* extra of each rank */
    if (!user_of_rank || !x) {
        free(user_of_rank);
        free(x);
        return -1;
    }
    permute(&r, user_of_rank, nu);
    for (int64_t i = nu - 1; i >= 0; i--)
        wsuf += 1.0 / (i + kz);
    /* water filling: the top ranks that would pass the cap sit at it */
    rest = extra;
    for (k = 0; k < nu; k++) {
        double want = (double)rest / wsuf / (k + kz);
        if (want <= (double)capx)
            break;
        x[k] = (int32_t)capx;
        rest -= capx;
        wsuf -= 1.0 / (k + kz);
    }
    for (int64_t i = k; i < nu; i++) {
        double want = (double)rest / wsuf / (i + kz);
        int64_t c = (int64_t)want;
        x[i] = (int32_t)(c > capx ? capx : c);
    }
    for (int64_t i = 0; i < nu; i++)
        sum += x[i];
    left = extra - sum;
    while (left > 0) /* rounding: hand out the rest from the top */
        for (int64_t i = 0; i < nu && left > 0; i++)
            if (x[i] < capx) {
                x[i]++;
                left--;
            }
    while (left < 0)
        for (int64_t i = nu - 1; i >= 0 && left < 0; i--)
            if (x[i] > 0) {
                x[i]--;
                left++;
            }
    m->maxcount = 0;
    for (int64_t i = 0; i < nu; i++) {
        int32_t c = (int32_t)(base + x[i]);
        m->ucount[user_of_rank[i]] = c;
        if (c > m->maxcount)
            m->maxcount = c;
    }
    free(x);
    free(user_of_rank);
    return 0;
}

static void build_users(struct gen_model *m)
{
    struct rng r;
    double scale = 1 / sqrt((double)GEN_DIMS);

    rng_seed(&r, m->opt.seed, STREAM_USERS);
    for (int64_t i = 0; i < m->nu; i++) {
        int k = 1 + (int)rng_below(&r, 3);
        float *v = m->uvec + i * GEN_DIMS;
        taste_vector(v, m, &r, pick_genres(&r, k), 0.7, 0.71);
        for (int d = 0; d < GEN_DIMS; d++)
            v[d] *= (float)scale;
        m->ubias[i] = (float)(0.4 * rng_normal(&r));
        m->uflags[i] = 0;
        if (rng_unit(&r) < 0.6)
            m->uflags[i] |= USER_HALF;
        if (rng_unit(&r) < 0.1)
            m->uflags[i] |= USER_TAGGER;
    }
}

int gen_model_new(struct gen_model **out, const struct gen_options *o, struct error *err)
{
    struct gen_model *m;
    size_t nu, nm;
    double tagger_ratings = 0, want;

    *out = NULL;
    if (gen_options_check(o, err))
        return ERR_USAGE;
    m = calloc(1, sizeof(*m));
    if (!m)
        return error_set(err, ERR_NOMEM, "out of memory");
    m->opt = *o;
    m->nu = o->users;
    m->nm = o->movies;
    nu = (size_t)m->nu;
    nm = (size_t)m->nm;
    m->uvec = malloc(nu * GEN_DIMS * sizeof(float));
    m->ubias = malloc(nu * sizeof(float));
    m->ucount = malloc(nu * sizeof(int32_t));
    m->uflags = malloc(nu);
    m->movies = aligned_alloc(64, (nm * sizeof(struct gmovie) + 63) / 64 * 64);
    m->rank_of = malloc(nm * sizeof(int32_t));
    if (!m->uvec || !m->ubias || !m->ucount || !m->uflags || !m->movies || !m->rank_of)
        goto nomem;
    build_movies(m);
    build_users(m);
    if (build_counts(m))
        goto nomem;

    /* Taggers tag about R/400 times in all, one to two tags a movie. */
    for (int64_t i = 0; i < m->nu; i++)
        if (m->uflags[i] & USER_TAGGER)
            tagger_ratings += m->ucount[i];
    if (tagger_ratings == 0) {
        m->uflags[0] |= USER_TAGGER;
        tagger_ratings = m->ucount[0];
    }
    want = (double)o->ratings / 400 + 10;
    m->tag_prob = want / (1.33 * tagger_ratings);
    if (m->tag_prob > 1)
        m->tag_prob = 1;
    *out = m;
    return 0;

nomem:
    gen_model_free(m);
    return error_set(err, ERR_NOMEM, "out of memory for a model of %lld users and %lld movies",
                     (long long)o->users, (long long)o->movies);
}

double gen_model_affinity(const struct gen_model *m, int64_t user, int64_t movie)
{
    if (user < 1 || user > m->nu || movie < 1 || movie > m->nm)
        return 0;
    return dot(m->uvec + (user - 1) * GEN_DIMS, m->movies[m->rank_of[movie - 1]].vec);
}

int64_t gen_model_user_count(const struct gen_model *m, int64_t user)
{
    if (user < 1 || user > m->nu)
        return 0;
    return m->ucount[user - 1];
}

double gen_model_popularity(const struct gen_model *m, int64_t movie)
{
    if (movie < 1 || movie > m->nm)
        return 0;
    return exp(m->movies[m->rank_of[movie - 1]].logpop);
}

/* ------------------------------------------------------------------ */
/* Buffered output                                                     */

struct out {
    int fd;
    char *buf;        /* OUT_CAP + OUT_SLACK bytes */
    size_t len;
    int werr;         /* errno of the first failed write, 0 if none */
    char tmp[4200];   /* dir/.name.tmp */
    char path[4200];  /* dir/name */
};

static int out_open(struct out *o, const char *dir, const char *name, struct error *err)
{
    snprintf(o->path, sizeof(o->path), "%s/%s", dir, name);
    snprintf(o->tmp, sizeof(o->tmp), "%s/.%s.tmp", dir, name);
    o->buf = malloc(OUT_CAP + OUT_SLACK);
    if (!o->buf)
        return error_set(err, ERR_NOMEM, "out of memory");
    o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (o->fd < 0)
        return error_set(err, ERR_IO, "cannot create '%s': %s", o->tmp, strerror(errno));
    return 0;
}

static void out_flush(struct out *o)
{
    size_t off = 0;
    while (off < o->len && !o->werr) {
        ssize_t k = write(o->fd, o->buf + off, o->len - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            o->werr = k < 0 ? errno : ENOSPC;
        else
            off += (size_t)k;
    }
    o->len = 0;
}

/* Room for one record of at most OUT_SLACK bytes at o->buf + o->len. */
static inline char *out_room(struct out *o)
{
    if (o->len >= OUT_CAP)
        out_flush(o);
    return o->buf + o->len;
}

static inline char *put_u64(char *p, uint64_t v)
{
    char t[20];
    int n = 0;
    do
        t[n++] = (char)('0' + v % 10);
    while ((v /= 10));
    while (n)
        *p++ = t[--n];
    return p;
}

static inline char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* s as a CSV field: in quotes, inner quotes doubled, when it holds a
 * comma, quote or line break. s must be under OUT_SLACK/2 bytes. */
static char *put_field(char *p, const char *s)
{
    if (!strpbrk(s, ",\"\r\n"))
        return put_str(p, s);
    *p++ = '"';
    for (; *s; s++) {
        if (*s == '"')
            *p++ = '"';
        *p++ = *s;
    }
    *p++ = '"';
    return p;
}

/* Flushes and closes; returns 0 or ERR_IO naming the file. */
static int out_close(struct out *o, struct error *err)
{
    int rc = 0;
    if (o->fd >= 0) {
        out_flush(o);
        if (close(o->fd) < 0 && !o->werr)
            o->werr = errno;
        o->fd = -1;
        if (o->werr)
            rc = error_set(err, ERR_IO, "cannot write '%s': %s", o->path, strerror(o->werr));
    }
    free(o->buf);
    o->buf = NULL;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Movies, links, users                                                */

/* How often each title pattern of movie_title() comes up (cumulative). */
static const double pattern_cdf[11] = {0.20, 0.34, 0.52, 0.60, 0.64, 0.67,
                                       0.70, 0.79, 0.88, 0.91, 0.925};

static void movie_title(const struct gen_model *m, int64_t id, char *out, size_t cap)
{
    const struct gmovie *mv = &m->movies[m->rank_of[id - 1]];
    struct rng r;
    char t[256];
    const char *a1, *a2, *n1, *n2, *n3, *nm;
    int pat;
    double u;

    rng_seed(&r, m->opt.seed, STREAM_TITLE | (uint64_t)id << 8);
    a1 = adjectives[rng_below(&r, NADJ)];
    a2 = adjectives[rng_below(&r, NADJ)];
    n1 = nouns[rng_below(&r, NNOUN)];
    n2 = nouns[rng_below(&r, NNOUN)];
    n3 = nouns[rng_below(&r, NNOUN)];
    nm = names[rng_below(&r, NNAME)];
    u = rng_unit(&r);
    for (pat = 0; pat < 11 && u >= pattern_cdf[pat]; pat++)
        ;
    switch (pat) {
    case 0: snprintf(t, sizeof(t), "%s %s", a1, n1); break;
    case 1: snprintf(t, sizeof(t), "%s of %s", n1, n2); break;
    case 2: snprintf(t, sizeof(t), "%s %s of %s", a1, n1, n2); break;
    case 3: snprintf(t, sizeof(t), "%s %s, The", a1, n1); break;              /* The Silent River */
    case 4: snprintf(t, sizeof(t), "%s of the %s %s, The", n1, a2, n2); break;
    case 5: snprintf(t, sizeof(t), "%s in the %s, %s", n1, n2,
                     strchr("AEIOU", n1[0]) ? "An" : "A"); break;
    case 6: snprintf(t, sizeof(t), "%s, %s and %s", n1, n2, n3); break;      /* needs quotes */
    case 7: snprintf(t, sizeof(t), "%s's %s", nm, n1); break;
    case 8: snprintf(t, sizeof(t), "%s: The %s %s", n1, a1, n2); break;
    case 9: snprintf(t, sizeof(t), "Goodbye, %s", nm); break;                 /* needs quotes */
    case 10: snprintf(t, sizeof(t), "%s \"%s\" %s", a1, nm, n1); break;      /* inner quotes */
    default: snprintf(t, sizeof(t), "%s %s %d", a1, n1, 2 + (int)rng_below(&r, 3)); break;
    }
    if (mv->flags & MOVIE_NOYEAR)
        snprintf(out, cap, "%s", t);
    else
        snprintf(out, cap, "%s (%d)", t, mv->year);
}

static void write_movies(const struct gen_model *m, struct out *o)
{
    char title[300];
    for (int64_t id = 1; id <= m->nm; id++) {
        char *p = out_room(o);
        uint32_t g = m->movies[m->rank_of[id - 1]].genres;
        int first = 1;

        movie_title(m, id, title, sizeof(title));
        p = put_u64(p, (uint64_t)id);
        *p++ = ',';
        p = put_field(p, title);
        *p++ = ',';
        if (!g)
            p = put_str(p, "(no genres listed)");
        for (int k = 0; k < NGENRES; k++)
            if (g & (1u << k)) {
                if (!first)
                    *p++ = '|';
                p = put_str(p, genre_names[k]);
                first = 0;
            }
        *p++ = '\n';
        o->len = (size_t)(p - o->buf);
    }
}

static void write_links(const struct gen_model *m, struct out *o)
{
    struct rng r;
    uint64_t imdb = 10000, tmdb = 1;
    uint64_t gi = 8000000 / (uint64_t)m->nm, gt = 1000000 / (uint64_t)m->nm;

    rng_seed(&r, m->opt.seed, STREAM_LINKS);
    for (int64_t id = 1; id <= m->nm; id++) {
        char *p = out_room(o), digits[24];
        int nd;

        imdb += 1 + rng_below(&r, gi + 1);
        tmdb += 1 + rng_below(&r, gt + 1);
        p = put_u64(p, (uint64_t)id);
        *p++ = ',';
        nd = (int)(put_u64(digits, imdb) - digits);
        for (int i = nd; i < 7; i++)
            *p++ = '0';
        memcpy(p, digits, (size_t)nd);
        p += nd;
        *p++ = ',';
        if (rng_unit(&r) >= 0.01)
            p = put_u64(p, tmdb);
        *p++ = '\n';
        o->len = (size_t)(p - o->buf);
    }
}

static void write_users(const struct gen_model *m, struct out *o)
{
    for (int64_t id = 1; id <= m->nu; id++) {
        struct rng r;
        char *p = out_room(o);
        int64_t age;
        int occ;

        rng_seed(&r, m->opt.seed, STREAM_PROFILE | (uint64_t)id << 8);
        age = (int64_t)lround(33 + 12 * rng_normal(&r));
        if (age < 7)
            age = 7 + (int64_t)rng_below(&r, 10);
        if (age > 90)
            age = 90;
        if (age < 23 && rng_unit(&r) < 0.6)
            occ = OCC_STUDENT;
        else if (age >= 62 && rng_unit(&r) < 0.6)
            occ = OCC_RETIRED;
        else
            occ = rng_weighted(&r, occupation_weight, NOCC);
        p = put_u64(p, (uint64_t)id);
        *p++ = ',';
        *p++ = rng_unit(&r) < 0.71 ? 'M' : 'F';
        *p++ = ',';
        p = put_u64(p, (uint64_t)age);
        *p++ = ',';
        p = put_str(p, occupations[occ]);
        *p++ = '\n';
        o->len = (size_t)(p - o->buf);
    }
}

/* ------------------------------------------------------------------ */
/* Ratings and tags                                                    */

struct pick {
    int64_t t;
    int32_t movie; /* id - 1 */
    int32_t r2;    /* rating * 2 */
};

struct pkey {
    float k;
    int32_t rank;
};

struct scratch {
    struct pick *picks; /* (maxcount) */
    int32_t *ranks;     /* (maxcount) the ranks of the picks */
    uint64_t *seen;     /* (nm bits, by rank) movies the current user has */
    struct pkey *keys;  /* (nm) only when some user is heavy */
};

static void insertion_sort(struct pick *p, int64_t n)
{
    for (int64_t i = 1; i < n; i++) {
        struct pick v = p[i];
        int64_t j = i;
        while (j > 0 && p[j - 1].movie > v.movie) {
            p[j] = p[j - 1];
            j--;
        }
        p[j] = v;
    }
}

/* Sorts by movie (all distinct): quicksort, median of three, small runs
 * by insertion; recursion only into the smaller side. */
static void sort_picks(struct pick *p, int64_t n)
{
    while (n > 24) {
        int64_t i = 0, j = n - 1;
        int32_t x = p[0].movie, y = p[n / 2].movie, z = p[n - 1].movie;
        int32_t pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        while (i <= j) {
            while (p[i].movie < pivot)
                i++;
            while (p[j].movie > pivot)
                j--;
            if (i <= j) {
                struct pick t = p[i];
                p[i] = p[j];
                p[j] = t;
                i++;
                j--;
            }
        }
        /* now p[0..j] <= pivot <= p[i..n) */
        if (j + 1 < n - i) {
            sort_picks(p, j + 1);
            p += i;
            n -= i;
        } else {
            sort_picks(p + i, n - i);
            n = j + 1;
        }
    }
    insertion_sort(p, n);
}

/* Moves the k smallest keys of a[0..n) to a[0..k) (quickselect). */
static void select_smallest(struct pkey *a, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1, target = k - 1;

    if (k <= 0 || k >= n)
        return;
    while (lo < hi) {
        int64_t i = lo, j = hi, mid = lo + (hi - lo) / 2;
        float x = a[lo].k, y = a[mid].k, z = a[hi].k;
        float pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        while (i <= j) {
            while (a[i].k < pivot)
                i++;
            while (a[j].k > pivot)
                j--;
            if (i <= j) {
                struct pkey t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        if (target <= j)
            hi = j;
        else if (target >= i)
            lo = i;
        else
            break;
    }
}

static inline float clipf(float x, float c)
{
    return x < -c ? -c : x > c ? c : x;
}

/* The user's active stretch: [start, start + dur) seconds. */
struct window {
    double start, dur;
};

static struct window pick_window(struct rng *r, int64_t n)
{
    struct window w;
    if (rng_unit(r) < 0.35)
        w.dur = (double)n * (20 + (double)rng_below(r, 60)); /* one sitting */
    else
        w.dur = exp(log(3600.0) + rng_unit(r) * (log(10 * 365.0 * DAY) - log(3600.0)));
    if (w.dur > (double)(T_END - T_START - DAY))
        w.dur = (double)(T_END - T_START - DAY);
    w.start = (double)T_START + rng_unit(r) * ((double)(T_END - T_START) - w.dur);
    return w;
}

/* The i-th of n picks of movie mv, rated by a user with the given bias
 * and affinity: its time (in order of picking, never before the movie
 * came out) and score. */
static void rate(struct pick *p, struct rng *r, const struct gmovie *mv, const struct window *w,
                 int64_t i, int64_t n, double ubase, float aff, int half)
{
    int64_t t = (int64_t)(w->start + w->dur * ((double)i + rng_unit(r)) / (double)n);
    double x = ubase + mv->bias + RATE_GAMMA * aff + RATE_NOISE * rng_normal(r);
    int32_t v;

    if (t < mv->release) {
        int64_t room = T_END - mv->release;
        if (room > 200 * DAY)
            room = 200 * DAY;
        t = mv->release + (int64_t)rng_below(r, (uint64_t)room + 1);
    }
    p->t = t;
    p->movie = mv->id;
    if (half) {
        v = (int32_t)lround(x * 2);
        p->r2 = v < 1 ? 1 : v > 10 ? 10 : v;
    } else {
        v = (int32_t)lround(x);
        p->r2 = 2 * (v < 1 ? 1 : v > 5 ? 5 : v);
    }
}

/* Picks n distinct movies for user u (0-based) in proportion to
 * popularity * exp(WATCH_BETA * clip(affinity)) and rates them into
 * s->picks[0..n). */
static void pick_movies(const struct gen_model *m, struct scratch *s, struct rng *r, int64_t u,
                        int64_t n)
{
    const float *uv = m->uvec + u * GEN_DIMS;
    double ubase = RATE_MU + m->ubias[u];
    int half = m->uflags[u] & USER_HALF;
    struct window w = pick_window(r, n);

    if (n * HEAVY_DIV > m->nm) {
        /* Efraimidis-Spirakis: the n smallest log(E) - log(weight),
         * E ~ Exp(1), are a weighted sample without replacement. */
        for (int64_t j = 0; j < m->nm; j++) {
            const struct gmovie *mv = &m->movies[j];
            float un = (float)(((rng_next(r) >> 40) + 0.5) * 0x1.0p-24);
            float a = clipf(dot(uv, mv->vec), WATCH_CLIP);
            s->keys[j].k = logf(-logf(un)) - mv->logpop - WATCH_BETA * a;
            s->keys[j].rank = (int32_t)j;
        }
        select_smallest(s->keys, m->nm, n);
        /* The selection comes out roughly in order of weight; watching
         * order (the times) must not follow popularity, so shuffle it. */
        for (int64_t i = n - 1; i > 0; i--) {
            int64_t j = (int64_t)rng_below(r, (uint64_t)i + 1);
            int32_t tmp = s->keys[i].rank;
            s->keys[i].rank = s->keys[j].rank;
            s->keys[j].rank = tmp;
        }
        for (int64_t i = 0; i < n; i++) {
            const struct gmovie *mv = &m->movies[s->keys[i].rank];
            rate(&s->picks[i], r, mv, &w, i, n, ubase, dot(uv, mv->vec), half);
        }
        return;
    }
    /* Popularity by inverse transform, then accept with the affinity
     * weight over its largest value. Proposals are drawn PREFETCH ahead
     * so that their cache lines are on the way when they are looked at. */
    uint32_t ahead[PREFETCH];
    for (int k = 0; k < PREFETCH; k++) {
        ahead[k] = sample_rank(m, r);
        __builtin_prefetch(&m->movies[ahead[k]]);
    }
    for (int64_t i = 0, h = 0; i < n; h = (h + 1) % PREFETCH) {
        uint32_t j = ahead[h];
        const struct gmovie *mv = &m->movies[j];
        float a;

        ahead[h] = sample_rank(m, r);
        __builtin_prefetch(&m->movies[ahead[h]]);

        if (s->seen[j >> 6] & (1ULL << (j & 63)))
            continue;
        a = dot(uv, mv->vec);
        if ((float)rng_unit(r) >= expf(WATCH_BETA * (clipf(a, WATCH_CLIP) - WATCH_CLIP)))
            continue;
        s->seen[j >> 6] |= 1ULL << (j & 63);
        s->ranks[i] = (int32_t)j;
        rate(&s->picks[i], r, mv, &w, i, n, ubase, a, half);
        i++;
    }
    for (int64_t i = 0; i < n; i++) {
        uint32_t j = (uint32_t)s->ranks[i];
        s->seen[j >> 6] &= ~(1ULL << (j & 63));
    }
}

static char *put_rating(char *p, int32_t r2)
{
    *p++ = (char)('0' + r2 / 2);
    *p++ = '.';
    *p++ = r2 & 1 ? '5' : '0';
    return p;
}

static void write_tags(const struct gen_model *m, struct out *o, struct rng *r, const char *uid,
                       size_t uidn, const struct pick *pk)
{
    uint32_t g = m->movies[m->rank_of[pk->movie]].genres;
    const char *first = NULL;
    int ntags = rng_below(r, 3) == 0 ? 2 : 1;

    for (int i = 0; i < ntags; i++) {
        const char *tag;
        char *p;
        if (g && rng_unit(r) < 0.6) {
            int k, c = (int)rng_below(r, (uint64_t)__builtin_popcount(g));
            for (k = 0; k < NGENRES; k++)
                if ((g & (1u << k)) && c-- == 0)
                    break;
            tag = genre_tags[k][rng_below(r, 3)];
        } else {
            tag = generic_tags[rng_below(r, NGENERIC_TAGS)];
        }
        if (first && !strcmp(first, tag))
            continue;
        first = tag;
        p = out_room(o);
        memcpy(p, uid, uidn);
        p += uidn;
        p = put_u64(p, (uint64_t)pk->movie + 1);
        *p++ = ',';
        p = put_field(p, tag);
        *p++ = ',';
        p = put_u64(p, (uint64_t)(pk->t + 1 + (int64_t)rng_below(r, 600)));
        *p++ = '\n';
        o->len = (size_t)(p - o->buf);
    }
}

static void write_ratings(const struct gen_model *m, struct scratch *s, struct out *ro,
                          struct out *to)
{
    uint64_t done = 0, last = 0, total = (uint64_t)m->opt.ratings;

    for (int64_t u = 0; u < m->nu; u++) {
        struct rng r;
        int64_t n = m->ucount[u];
        char uid[24];
        size_t uidn;

        rng_seed(&r, m->opt.seed, STREAM_RATE | (uint64_t)(u + 1) << 8);
        pick_movies(m, s, &r, u, n);
        sort_picks(s->picks, n);
        uidn = (size_t)(put_u64(uid, (uint64_t)u + 1) - uid);
        uid[uidn++] = ',';
        for (int64_t i = 0; i < n; i++) {
            const struct pick *pk = &s->picks[i];
            char *p = out_room(ro);
            memcpy(p, uid, uidn);
            p += uidn;
            p = put_u64(p, (uint64_t)pk->movie + 1);
            *p++ = ',';
            p = put_rating(p, pk->r2);
            *p++ = ',';
            p = put_u64(p, (uint64_t)pk->t);
            *p++ = '\n';
            ro->len = (size_t)(p - ro->buf);
            if ((m->uflags[u] & USER_TAGGER) && rng_unit(&r) < m->tag_prob)
                write_tags(m, to, &r, uid, uidn, pk);
        }
        done += (uint64_t)n;
        if (m->opt.progress && done - last >= (1u << 16)) {
            m->opt.progress(m->opt.progress_ctx, done, total);
            last = done;
        }
        if (ro->werr || to->werr)
            return;
    }
    if (m->opt.progress)
        m->opt.progress(m->opt.progress_ctx, done, total);
}

/* ------------------------------------------------------------------ */
/* The folder                                                          */

enum { F_MOVIES, F_LINKS, F_USERS, F_TAGS, F_RATINGS, NFILES };
static const char *file_names[NFILES] = {"movies.csv", "links.csv", "users.csv", "tags.csv",
                                         "ratings.csv"};
static const char *file_headers[NFILES] = {
    "movieId,title,genres\n", "movieId,imdbId,tmdbId\n", "userId,gender,age,occupation\n",
    "userId,movieId,tag,timestamp\n", "userId,movieId,rating,timestamp\n"};

int gen_model_write(struct gen_model *m, const char *dir, struct error *err)
{
    struct out o[NFILES];
    struct scratch s = {0};
    char probe[4200];
    int rc = 0, opened = 0;

    for (int i = 0; i < NFILES; i++) {
        o[i].fd = -1;
        o[i].buf = NULL;
        o[i].len = 0;
        o[i].werr = 0;
    }
    if ((rc = fs_mkdir_p(dir, err)))
        return rc;
    snprintf(probe, sizeof(probe), "%s/ratings.csv", dir);
    if (!m->opt.force && access(probe, F_OK) == 0)
        return error_set(err, ERR_EXISTS, "'%s' already holds a data set (ratings.csv)", dir);

    s.picks = malloc((size_t)(m->maxcount ? m->maxcount : 1) * sizeof(*s.picks));
    s.ranks = malloc((size_t)(m->maxcount ? m->maxcount : 1) * sizeof(*s.ranks));
    s.seen = calloc((size_t)(m->nm + 63) / 64, sizeof(*s.seen));
    if ((int64_t)m->maxcount * HEAVY_DIV > m->nm)
        s.keys = malloc((size_t)m->nm * sizeof(*s.keys));
    if (!s.picks || !s.ranks || !s.seen || ((int64_t)m->maxcount * HEAVY_DIV > m->nm && !s.keys)) {
        rc = error_set(err, ERR_NOMEM, "out of memory");
        goto done;
    }
    for (; opened < NFILES; opened++) {
        if ((rc = out_open(&o[opened], dir, file_names[opened], err))) {
            if (o[opened].fd < 0 && o[opened].buf) {
                free(o[opened].buf);
                o[opened].buf = NULL;
            }
            goto done;
        }
        memcpy(out_room(&o[opened]), file_headers[opened], strlen(file_headers[opened]));
        o[opened].len += strlen(file_headers[opened]);
    }
    write_movies(m, &o[F_MOVIES]);
    write_links(m, &o[F_LINKS]);
    write_users(m, &o[F_USERS]);
    write_ratings(m, &s, &o[F_RATINGS], &o[F_TAGS]);

done:
    /* a write that failed on the way (the disk filled up) is the news,
     * not the files that could not be flushed after it */
    for (int i = 0; i < opened && !rc; i++)
        if (o[i].werr)
            rc = error_set(err, ERR_IO, "cannot write '%s': %s", o[i].path,
                           strerror(o[i].werr));
    for (int i = 0; i < opened; i++) {
        int k = out_close(&o[i], rc ? NULL : err);
        if (!rc)
            rc = k;
    }
    if (!rc) {
        for (int i = 0; i < NFILES; i++)
            if (rename(o[i].tmp, o[i].path) < 0) {
                rc = error_set(err, ERR_IO, "cannot rename '%s' to '%s': %s", o[i].tmp,
                               o[i].path, strerror(errno));
                break;
            }
    }
    if (rc)
        for (int i = 0; i < opened; i++)
            unlink(o[i].tmp);
    free(s.picks);
    free(s.ranks);
    free(s.seen);
    free(s.keys);
    return rc;
}

int gen_write(const char *dir, const struct gen_options *o, struct error *err)
{
    struct gen_model *m;
    int rc = gen_model_new(&m, o, err);
    if (rc)
        return rc;
    rc = gen_model_write(m, dir, err);
    gen_model_free(m);
    return rc;
}
