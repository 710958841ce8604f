/*
 * intset.h - a set of positive 64-bit integers (open addressing).
 * Used by the import to know which user and movie ids exist.
 * The set owns its table; intset_free() releases it.
 */
#ifndef MOVIEREC_INTSET_H
#define MOVIEREC_INTSET_H

#include <stddef.h>
#include <stdint.h>

struct intset {
    int64_t *slot; /* 0 marks an empty slot, so 0 cannot be a member */
    size_t cap, len;
};

void intset_init(struct intset *s);
void intset_free(struct intset *s);
/* Returns 1 if added, 0 if already present, -1 on allocation failure.
 * v must be > 0. */
int intset_add(struct intset *s, int64_t v);
int intset_has(const struct intset *s, int64_t v);
/* The slot index of v in s->slot, or -1 if absent. Slots stay put until the
 * next intset_add() that grows the table (s->cap changes). */
long intset_find(const struct intset *s, int64_t v);

#endif
