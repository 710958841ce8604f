#include "intset.h"

#include <stdlib.h>

static inline size_t hash(int64_t v, size_t mask)
{
    uint64_t x = (uint64_t)v * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(x >> 17) & mask;
}

void intset_init(struct intset *s)
{
    s->slot = NULL;
    s->cap = s->len = 0;
}

void intset_free(struct intset *s)
{
    free(s->slot);
    intset_init(s);
}

static int grow(struct intset *s)
{
    size_t ncap = s->cap ? s->cap * 2 : 1024;
    int64_t *ns = calloc(ncap, sizeof(*ns));
    if (!ns)
        return -1;
    for (size_t i = 0; i < s->cap; i++) {
        int64_t v = s->slot[i];
        if (v) {
            size_t h = hash(v, ncap - 1);
            while (ns[h])
                h = (h + 1) & (ncap - 1);
            ns[h] = v;
        }
    }
    free(s->slot);
    s->slot = ns;
    s->cap = ncap;
    return 0;
}

int intset_add(struct intset *s, int64_t v)
{
    size_t h;
    if ((s->len + 1) * 2 > s->cap && grow(s) < 0)
        return -1;
    h = hash(v, s->cap - 1);
    while (s->slot[h]) {
        if (s->slot[h] == v)
            return 0;
        h = (h + 1) & (s->cap - 1);
    }
    s->slot[h] = v;
    s->len++;
    return 1;
}

long intset_find(const struct intset *s, int64_t v)
{
    size_t h;
    if (!s->cap)
        return -1;
    h = hash(v, s->cap - 1);
    while (s->slot[h]) {
        if (s->slot[h] == v)
            return (long)h;
        h = (h + 1) & (s->cap - 1);
    }
    return -1;
}

int intset_has(const struct intset *s, int64_t v)
{
    return intset_find(s, v) >= 0;
}
