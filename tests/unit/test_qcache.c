/*
 * test_qcache.c - the short-lived cache of movie lists and searches
 * (src/server/qcache.h): hits, misses, expiry, long keys, a slot taken by
 * another key, and many threads at once.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#include "../../src/server/qcache.h"

static void test_hit_miss_expiry(void **state)
{
    struct qcache *c = qcache_new(64, 60);
    int64_t ids[QCACHE_IDS], want[3] = {5, 3, 9}, total = 0;
    int n = 0;
    uint64_t h, m;
    (void)state;
    assert_non_null(c);
    assert_int_equal(qcache_get(c, "q=heat", 1000, ids, &n, &total), 0);
    qcache_put(c, "q=heat", 1000, want, 3, 42);
    assert_int_equal(qcache_get(c, "q=heat", 1059, ids, &n, &total), 1);
    assert_int_equal(n, 3);
    assert_int_equal(total, 42);
    assert_memory_equal(ids, want, sizeof(want));
    assert_int_equal(qcache_get(c, "q=hea", 1001, ids, &n, &total), 0); /* another key */
    assert_int_equal(qcache_get(c, "q=heat", 1060, ids, &n, &total), 0); /* expired */
    assert_int_equal(qcache_get(c, "q=heat", 999, ids, &n, &total), 0);  /* clock went back */
    qcache_stats(c, &h, &m);
    assert_int_equal(h, 1);
    assert_int_equal(m, 4);
    qcache_free(c);
}

static void test_long_key_and_overwrite(void **state)
{
    struct qcache *c = qcache_new(1, 60); /* one slot: every key takes it */
    char key[QCACHE_KEY + 10];
    int64_t ids[QCACHE_IDS], a[1] = {1}, b[2] = {2, 3}, total;
    int n;
    (void)state;
    memset(key, 'x', sizeof(key) - 1);
    key[sizeof(key) - 1] = 0;
    qcache_put(c, key, 10, a, 1, 1);
    assert_int_equal(qcache_get(c, key, 10, ids, &n, &total), 0); /* too long: never kept */
    qcache_put(c, "one", 10, a, 1, 1);
    qcache_put(c, "two", 10, b, 2, 2);
    assert_int_equal(qcache_get(c, "one", 10, ids, &n, &total), 0);
    assert_int_equal(qcache_get(c, "two", 10, ids, &n, &total), 1);
    assert_int_equal(n, 2);
    assert_int_equal(ids[1], 3);
    qcache_put(c, "three", 10, b, QCACHE_IDS + 1, 2); /* too many ids: refused */
    assert_int_equal(qcache_get(c, "three", 10, ids, &n, &total), 0);
    qcache_free(c);
    c = qcache_new(8, 0); /* ttl 0: off */
    qcache_put(c, "one", 10, a, 1, 1);
    assert_int_equal(qcache_get(c, "one", 10, ids, &n, &total), 0);
    qcache_free(c);
}

static struct qcache *shared;

/* each answer's ids are all its key's number: a torn entry would mix */
static void *hammer(void *arg)
{
    int t = *(int *)arg;
    for (int i = 0; i < 20000; i++) {
        char key[32];
        int k = (i * 7 + t) % 50, n;
        int64_t ids[QCACHE_IDS], total;
        snprintf(key, sizeof(key), "k%d", k);
        if (qcache_get(shared, key, 5, ids, &n, &total)) {
            if (total != k || n != 1 + k % 7)
                return (void *)1;
            for (int j = 0; j < n; j++)
                if (ids[j] != k)
                    return (void *)1;
        } else {
            int64_t v[QCACHE_IDS];
            for (int j = 0; j < QCACHE_IDS; j++)
                v[j] = k;
            qcache_put(shared, key, 5, v, 1 + k % 7, k);
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    pthread_t th[4];
    int id[4] = {0, 1, 2, 3};
    void *r;
    (void)state;
    shared = qcache_new(16, 60); /* fewer slots than keys: constant replacement */
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &id[i]), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], &r), 0);
        assert_null(r);
    }
    qcache_free(shared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_miss_expiry),
        cmocka_unit_test(test_long_key_and_overwrite),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
