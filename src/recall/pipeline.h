/*
 * pipeline.h - one personalised recommendation: every recall channel picks
 * candidates, they are merged and filtered, the deep model ranks them, a
 * genre cap keeps the list varied, and each movie keeps a reason a person
 * can read (docs/ARCHITECTURE.md, "The recommendation pipeline").
 *
 * Movies are "rows". Rows 0 .. nvocab-1 are the movie indexes of the
 * model's vocabulary (row 0 = the unknown movie, never recommended), so
 * the recall bundle's tables index them directly; movies of the store that
 * the vocabulary does not know (added since training) follow as rows
 * nvocab .. n-1: they have no ratings-based signal, and reach users through
 * their tower vectors (genres and title) in the embedding channel and the
 * deep ranking. A vocabulary movie no longer in the store is never
 * recommended.
 *
 * struct recommender borrows the model, vocabulary and bundle (they must
 * outlive it), owns its tables, and is read-only after recommender_init():
 * threads share it, each with its own struct rec_ws.
 */
#ifndef MOVIEREC_PIPELINE_H
#define MOVIEREC_PIPELINE_H

#include <stdint.h>

#include "../model/ranker.h"
#include "bundle.h"
#include "embed.h"
#include "qindex.h"

#define REC_MAX_RECENT 256
#define REC_NZ 4 /* features also taken as z-scores within the candidates */
#define REC_SCAN_RANK 32 /* principal directions of the recall scans and features */

enum rec_channel { REC_ITEMCF, REC_EMBED, REC_ALS, REC_COLD, REC_NCHANNELS };

/* Where a recommendation's time goes (rec_ws.stage_ms): the user's state
 * (recent movies, content profile, ALS fold-in), each channel, the user
 * tower, the deep model over the candidates, the blend's features, and
 * the list (sort, genre cap, reasons). */
enum rec_stage {
    REC_STAGE_USER,
    REC_STAGE_ITEMCF, /* + enum rec_channel */
    REC_STAGE_UTOWER = REC_STAGE_ITEMCF + REC_NCHANNELS,
    REC_STAGE_DEEP,
    REC_STAGE_RANK, /* the blend: features and scores */
    REC_STAGE_LIST,
    REC_NSTAGES
};
const char *rec_stage_name(enum rec_stage s);

enum rec_reason {
    REASON_LIKED,   /* item-CF: "because you liked (watched) <because>" */
    REASON_CONTENT, /* embedding: "like <because>, which you liked (watched)" */
    REASON_TASTE,   /* ALS: "people with similar taste watched it" */
    REASON_GENRE,   /* cold start: "popular in <genre>" */
    REASON_GROUP,   /* cold start: "popular with people like you" */
    REASON_POPULAR, /* cold start: "popular on movierec" */
};

const char *rec_channel_name(enum rec_channel c); /* "itemcf", "embed", "als", "cold" */

struct rec_opts {
    int quota[REC_NCHANNELS]; /* candidates per channel; default 200 100 150 50 */
    int recent;               /* latest ratings that stand for the user in item-CF,
                               * the content profile and reasons (at most
                               * REC_MAX_RECENT) */
    float recent_min;         /* ... counting ratings >= this */
    float recent_decay;       /* the i-th latest weighs recent_decay^i */
    float like_min;           /* a rating is positive when >= this: 4 (favourite
                               * genres; "liked" rather than "watched" in reasons) */
    int genre_cap;            /* at most this many movies of one genre per 10 of the
                               * list (a list of 5: half as many, rounded up);
                               * 0 = no cap; default 5 */
    int genre_floor;          /* a newcomer (few ratings, or only interest tags) whose
                               * preference leans to one genre gets at least this many
                               * of it per 10 when there are candidates; 0 = none;
                               * default 3 */
    int only;                 /* -1 (default): every channel + ranking; a channel:
                               * that channel alone in its own order (evaluation) */
    const struct rec_blend *blend; /* the ranker's blend; NULL (default): the bundle's.
                                    * One not fitted ranks by the deep model alone. */
    const struct rec_blend *pre;   /* the pre-ranker; NULL: the bundle's */
    int prerank;                   /* candidates the deep model ranks, the pre-ranker's
                                    * best (when fitted); default 200; 0: all */
};

void rec_opts_default(struct rec_opts *o);

/* What the pipeline knows about one user at the moment of the request:
 * features, every rating (rows, any order) and interest tags. */
struct rec_user {
    struct user_feat feat;
    int n;
    const int *movie;     /* (n,) rows */
    const float *score;   /* (n,) */
    const int64_t *time;  /* (n,) */
    const int *genres;    /* (ngenres,) favourite genres (vocab genre indexes) or NULL */
    int ngenres;
};

struct rec_item {
    int movie;      /* row */
    float score;    /* the deep model's probability (or the channel's score) */
    float rank;     /* what ordered the list: the blend's score, the deep logit,
                     * or the channel's score */
    enum rec_channel channel;
    enum rec_reason reason;
    int because;    /* row of the recent movie behind REASON_LIKED/CONTENT, else -1 */
    int because_liked; /* the user rated it >= like_min ("liked", not "watched") */
    int genre;      /* vocab genre index behind REASON_GENRE, else -1 */
};

struct recommender {
    const struct model *m;
    const struct vocab *v;
    const struct recall_bundle *b;
    int n, nvocab;
    int64_t *ids;          /* (n,) movie id of each row (0 for row 0) */
    struct movie_feat *mf; /* (n,) */
    uint8_t *gone;         /* (n,) 1: never recommend */
    struct ranker rk;
    struct embed_index emb; /* unit movie vectors (n) */
    struct qindex alsx;     /* over the bundle's item factors (nvocab), for ALS recall */
    struct qindex embx;     /* over emb's vectors, for content recall */
    float *gram;            /* (F, F) Y^T Y of the item factors */
    float *logpop;          /* (n,) log(1 + the movie's rating count): BLEND_POP */
    int ngenres;            /* vocab genres + 1 */
    int genre_k;
    int *genre_top;         /* (ngenres, genre_k) rows by popularity, -1 padding;
                             * list 0 (the unknown genre's) is every genre's */
};

/* Builds the tables for the store's movies ids (n,) with features mf (n,)
 * (feat_load_movies(): mf[i].movie is the vocabulary index, 0 when new). */
int recommender_init(struct recommender *r, const struct model *m, const struct vocab *v,
                     const struct recall_bundle *b, const int64_t *ids,
                     const struct movie_feat *mf, int n, struct error *err);
void recommender_free(struct recommender *r);

/* The row of a movie id, or -1. O(log n). */
int recommender_row(const struct recommender *r, int64_t id);

/* A query projected for one of the recall indexes (see approx_dot() in
 * pipeline.c): the ranker's content and latest-movie features. */
struct qproj {
    const struct qindex *qx;
    const float *q;
    float p[REC_SCAN_RANK];
    float c;
};

/* One thread's scratch. After recommender_recommend() (ranked) it also
 * holds the candidates for evaluation and fitting: cand (ncand,) sorted,
 * and rows (ncand,) with their features feat (ncand, BLEND_NFEAT) in the
 * order they were recalled. */
struct rec_ws {
    struct ranker_ws rw;
    uint8_t *mark;        /* (n,) bit 1 rated/gone, bit 2 candidate */
    struct rec_item *cand; /* (max candidates,) */
    int ncand, capcand;
    int *rows;            /* (max candidates,) */
    uint8_t *used;        /* (max candidates,) */
    float *prob;          /* (max candidates,) */
    float *feat;          /* (max candidates, BLEND_NFEAT) the ranker's inputs */
    float *feat2;         /* the same, for reordering */
    struct rec_item *cand2;
    float *acc;           /* (n, 2) zero between requests: item-CF sums, and the
                           * latest movie's item-CF similarity */
    float zmu[REC_NZ], zsd[REC_NZ]; /* the candidates' feature mean and spread */
    int ranked;           /* the last recommend ranked: user state is set */
    struct qproj qp_content, qp_last;
    double stage_ms[REC_NSTAGES]; /* the last recommend's time per stage */
    struct cand *tmp;     /* (max candidates,) */
    int *liked;           /* (recent,) rows, latest first */
    float *liked_w;       /* (recent,) their weights */
    float *liked_score;   /* (recent,) the user's ratings of them */
    int nliked, capliked;
    int nrows;
    float *profile;       /* (tower,) */
    float *ufac;          /* (F,) */
    float *gpref;         /* (ngenres,) the user's genre preference, sums to 1 or 0 */
    float few;            /* 1 for a user with few ratings, towards 0 with many */
    float *fold;          /* fold-in scratch */
    void *qscratch;
    int *fold_movie;      /* (ratings) */
    float *fold_score;
    int capfold;
};

int rec_ws_alloc(struct rec_ws *ws, const struct recommender *r, const struct rec_opts *o,
                 struct error *err);
void rec_ws_free(struct rec_ws *ws);

/* Up to n movies for the user into out (n,), best first; returns how many
 * (>= 0), or -err code with err set (ERR_NOMEM). Movies the user rated are
 * never in the list. */
int recommender_recommend(const struct recommender *r, struct rec_ws *ws, const struct rec_opts *o,
                          const struct rec_user *u, struct rec_item *out, int n,
                          struct error *err);

/* The ranker's probability for any movies rows (n,) for the user of the
 * last recommender_recommend() on ws (which must have ranked: o->only
 * -1): the blend of that user's features against the same candidates
 * (the z-scores use the candidates' statistics, so a movie's score does
 * not depend on which others are asked for), or the deep model's when
 * the blend is not fitted. out (n,). */
void recommender_score_rows(const struct recommender *r, struct rec_ws *ws,
                            const struct rec_opts *o, const int *rows, int n, float *out);

/* Movies similar to row: the cosine of the deep model's movie vectors,
 * plus beta times the item-CF similarity where the two movies are item-CF
 * neighbours (beta 0: the paper's method alone). Candidates: the best
 * cosines and the item-CF neighbours; rows with exclude[r] != 0 (exclude
 * (n,) or NULL) and gone movies are skipped. Writes up to n (<= 100) to
 * out, best first: channel REC_ITEMCF when item-CF added the larger part,
 * else REC_EMBED; score = the blended similarity. Returns how many. */
#define REC_SIMILAR_BETA 1.0f
int recommender_similar(const struct recommender *r, struct rec_ws *ws, int row, float beta,
                        const uint8_t *exclude, struct rec_item *out, int n);

/* Fits the blend by L2-regularised logistic regression (Newton's method)
 * on x (n, BLEND_NFEAT) with labels y (n,) 0/1. ERR_NOTFOUND when there
 * is no positive or no negative. */
int rec_blend_fit(const float *x, const uint8_t *y, int64_t n, struct rec_blend *out,
                  struct error *err);

/* Writes the reason as English text ("because you liked Heat", ...) with
 * titles looked up by title(ctx, row) (may return NULL). */
void rec_reason_text(const struct recommender *r, const struct rec_item *it,
                     const char *(*title)(void *ctx, int row), void *ctx, char *buf, size_t cap);

#endif
