/*
 * recall.h - what every recall channel shares: the candidate type and
 * top-k selection.
 *
 * A recall channel (popularity.h, itemcf.h, als.h) turns the training
 * interactions into a short list of candidate movies for one user; the
 * ranking model then orders the merged lists. Channels write into arrays of
 * `struct cand` that the caller owns. Movies are indexes into the dataset's
 * movie table (row 0 is the unknown movie and is scored like any other).
 *
 * Order everywhere: score descending, ties by the lower movie index, NaN
 * scores last, so results do not depend on thread timing or on the order
 * of input.
 */
#ifndef MOVIEREC_RECALL_H
#define MOVIEREC_RECALL_H

#include <math.h>
#include <stdint.h>

/* One candidate. `because` is the movie that most explains it (item-CF:
 * the liked movie whose similarity contributed most, for "because you
 * liked X"); -1 for channels without a reason (popularity, ALS). */
struct cand {
    int movie;
    float score;
    int because;
};

/* 1 when a ranks before b: higher score, or equal score and lower movie.
 * A NaN score ranks below every number, NaNs among themselves by movie,
 * so the order is total whatever the scores (sorts and selections then
 * agree however their input came). */
static inline int cand_better(const struct cand *a, const struct cand *b)
{
    if (a->score > b->score)
        return 1;
    if (a->score < b->score)
        return 0;
    if (a->score == b->score)
        return a->movie < b->movie;
    return isnan(b->score) && (!isnan(a->score) || a->movie < b->movie); /* a or b NaN */
}

/* ---- top-k over a dense score array ---- */

/* Writes the best min(k, eligible) movies of scores (n,) to out (k,), best
 * first, and returns how many it wrote. Skipped: movies with exclude[m]
 * != 0 (exclude is (n,) or NULL) and NaN scores. O(n log k), no
 * allocation. */
int recall_topk(struct cand *out, int k, const float *scores, int n, const uint8_t *exclude);

/* ---- the bounded heap underneath, for channels with sparse scores ---- */

/* heap (k,) holds *n <= k candidates as a min-heap on cand_better (the
 * worst at heap[0]). Pushing keeps the best k seen so far. */
void recall_heap_push(struct cand *heap, int *n, int k, struct cand c);
/* Sorts heap (n,) in place into order, best first. */
void recall_heap_sort(struct cand *heap, int n);
/* The best min(k, n) of a (n,) to a[0 ..) in order, best first, the rest
 * after them in no order: a quicksort that leaves the parts past k
 * unsorted, comparisons inline (recall_heap_sort is qsort, a call per
 * comparison). Movies must be distinct (equal candidates would come in
 * no set order; recall_heap_sort keeps them as they were). k <= 0 leaves
 * a as it is. O(n + k log k) time on most inputs, O(n^2) at worst (a
 * median of three is still a guess); O(log n) stack on any. */
void recall_partial_sort(struct cand *a, int n, int k);

#endif
