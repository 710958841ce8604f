/*
 * recall.c - top-k selection shared by the recall channels (recall.h).
 */
#include "recall.h"

#include <math.h>
#include <stdlib.h>

#include "../util/banned.h"

static void sift_down(struct cand *h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && cand_better(&h[w], &h[l]))
            w = l;
        if (r < n && cand_better(&h[w], &h[r]))
            w = r;
        if (w == i)
            return;
        struct cand t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

void recall_heap_push(struct cand *heap, int *n, int k, struct cand c)
{
    if (k <= 0)
        return;
    if (*n < k) {
        int i = (*n)++;
        heap[i] = c;
        while (i > 0) { /* sift up: the worse one goes to the root */
            int p = (i - 1) / 2;
            if (!cand_better(&heap[p], &heap[i]))
                break;
            struct cand t = heap[p];
            heap[p] = heap[i];
            heap[i] = t;
            i = p;
        }
        return;
    }
    if (!cand_better(&c, &heap[0]))
        return;
    heap[0] = c;
    sift_down(heap, *n, 0);
}

static int cmp_cand(const void *pa, const void *pb)
{
    const struct cand *a = pa, *b = pb;
    if (cand_better(a, b))
        return -1;
    if (cand_better(b, a))
        return 1;
    return 0;
}

void recall_heap_sort(struct cand *heap, int n)
{
    if (n > 1)
        qsort(heap, (size_t)n, sizeof(*heap), cmp_cand);
}

static void cand_swap(struct cand *a, struct cand *b)
{
    struct cand t = *a;
    *a = *b;
    *b = t;
}

void recall_partial_sort(struct cand *a, int n, int k)
{
    if (k <= 0)
        return;
    if (k > n)
        k = n;
    while (n > 16) {
        /* the median of a[0], a[mid], a[n - 1] as pivot, at a[n - 1] */
        int mid = n / 2, st = 0;
        if (cand_better(&a[mid], &a[0]))
            cand_swap(&a[mid], &a[0]);
        if (cand_better(&a[n - 1], &a[0]))
            cand_swap(&a[n - 1], &a[0]);
        if (cand_better(&a[mid], &a[n - 1]))
            cand_swap(&a[mid], &a[n - 1]);
        for (int i = 0; i < n - 1; i++)
            if (cand_better(&a[i], &a[n - 1]))
                cand_swap(&a[i], &a[st++]);
        cand_swap(&a[n - 1], &a[st]); /* a[0, st) before the pivot at st, the rest after */
        if (st + 1 >= k) { /* only the part before the pivot: its best k */
            n = st;
            if (k > n)
                k = n;
        } else if (st < n - st - 1) {
            /* both: all of a[0, st) and the best k - st - 1 after the
             * pivot; recurse into the smaller part and loop on the larger,
             * so the stack stays O(log n) deep on any input */
            recall_partial_sort(a, st, st);
            a += st + 1;
            n -= st + 1;
            k -= st + 1;
        } else {
            recall_partial_sort(a + st + 1, n - st - 1, k - st - 1);
            n = k = st;
        }
    }
    for (int i = 1; i < n; i++) { /* insertion sort of a short part */
        struct cand c = a[i];
        int j = i;
        for (; j > 0 && cand_better(&c, &a[j - 1]); j--)
            a[j] = a[j - 1];
        a[j] = c;
    }
}

int recall_topk(struct cand *out, int k, const float *scores, int n, const uint8_t *exclude)
{
    int got = 0;
    for (int m = 0; m < n; m++) {
        if ((exclude && exclude[m]) || isnan(scores[m]))
            continue;
        struct cand c = {m, scores[m], -1};
        recall_heap_push(out, &got, k, c);
    }
    recall_heap_sort(out, got);
    return got;
}
