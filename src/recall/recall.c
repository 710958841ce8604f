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
