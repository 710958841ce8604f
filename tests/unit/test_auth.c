/*
 * test_auth.c - passwords, session tokens and login rate limits
 * (src/server/auth.h): the password policy, Argon2id hashes (salted,
 * verified; few of them, each takes ~0.1 s and 64 MiB), tokens and their
 * hashes, and the per-name and per-address limits with their window.
 */
#include "testutil.h"

#include "../../src/server/auth.h"

#define T0 1700000000

static int setup(void **state)
{
    struct error err = {0};
    (void)state;
    if (auth_init(&err)) {
        fprintf(stderr, "auth_init: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static void expect_policy(const char *pw, int code, const char *want)
{
    struct error err = {0};
    int rc = auth_password_check(pw, &err);
    if (rc != code || (code && want && !strstr(err.msg, want)))
        fail_msg("password of %zu bytes: got %d '%s', want %d with '%s'", pw ? strlen(pw) : 0,
                 rc, rc ? err.msg : "", code, want ? want : "");
}

/* ------------------------------------------------------------------ */

static void test_init_twice(void **state)
{
    struct error err = {0};
    (void)state;
    assert_int_equal(auth_init(&err), 0);
    assert_int_equal(auth_init(&err), 0);
}

static void test_password_policy(void **state)
{
    char big[AUTH_PASSWORD_MAX + 2];
    (void)state;

    expect_policy("1234567", ERR_PARSE, "at least 8");
    expect_policy("", ERR_PARSE, "at least 8");
    expect_policy(NULL, ERR_PARSE, "at least 8");
    expect_policy("12345678", 0, NULL);
    expect_policy("correct horse battery staple", 0, NULL);
    expect_policy("p\xc3\xa4sstw\xc3\xb6rd", 0, NULL); /* UTF-8 is fine */
    memset(big, 'a', sizeof(big));
    big[AUTH_PASSWORD_MAX] = '\0'; /* 1024 bytes */
    expect_policy(big, 0, NULL);
    big[AUTH_PASSWORD_MAX] = 'a';
    big[AUTH_PASSWORD_MAX + 1] = '\0'; /* 1025 */
    expect_policy(big, ERR_PARSE, "at most 1024");
    expect_policy("abcdefg\xff", ERR_PARSE, "UTF-8");
    expect_policy("abcdefgh\xc3", ERR_PARSE, "UTF-8");           /* cut short */
    expect_policy("abc\xc0\xaf" "defgh", ERR_PARSE, "UTF-8");    /* overlong '/' */
    expect_policy("abc\xed\xa0\x80" "defgh", ERR_PARSE, "UTF-8"); /* a surrogate */
}

static void test_password_hash(void **state)
{
    char h1[STORE_HASH_MAX], h2[STORE_HASH_MAX];
    struct error err = {0};
    const char *pw = "correct horse battery staple";
    (void)state;

    assert_int_equal(auth_password_hash(pw, h1, &err), 0);
    assert_int_equal(auth_password_hash(pw, h2, &err), 0);
    assert_true(strncmp(h1, "$argon2id$", 10) == 0);
    assert_true(strncmp(h2, "$argon2id$", 10) == 0);
    assert_true(strlen(h1) < STORE_HASH_MAX);
    assert_null(strstr(h1, pw)); /* nothing of the password in it */
    assert_string_not_equal(h1, h2); /* salted */

    assert_int_equal(auth_password_verify(h1, pw), 1);
    assert_int_equal(auth_password_verify(h2, pw), 1);
    assert_int_equal(auth_password_verify(h1, "correct horse battery stapler"), 0);
    assert_int_equal(auth_password_verify("", pw), 0);
    assert_int_equal(auth_password_verify(NULL, pw), 0);
    assert_int_equal(auth_password_verify(h1, NULL), 0);
    assert_int_equal(auth_password_verify("not a hash at all", pw), 0);
}

static int base64url(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return 0;
    return 1;
}

static void test_tokens(void **state)
{
    char t1[AUTH_TOKEN_LEN + 1], t2[AUTH_TOKEN_LEN + 1], bad[AUTH_TOKEN_LEN + 2];
    unsigned char h1[32], h2[32], again[32];
    static const char not_b64[] = {'+', '/', '=', ' ', '.', '\n', '\x80'};
    (void)state;

    auth_token_new(t1, h1);
    auth_token_new(t2, h2);
    assert_int_equal(strlen(t1), AUTH_TOKEN_LEN);
    assert_int_equal(AUTH_TOKEN_LEN, 43);
    assert_true(base64url(t1) && base64url(t2));
    assert_string_not_equal(t1, t2);
    assert_memory_not_equal(h1, h2, 32);
    /* the hash handed out is the hash of the token from a cookie */
    assert_int_equal(auth_token_hash(t1, again), 0);
    assert_memory_equal(again, h1, 32);
    assert_int_equal(auth_token_hash(t2, again), 0);
    assert_memory_equal(again, h2, 32);
    /* the hash is not the token's bytes */
    assert_memory_not_equal(h1, t1, 32);

    /* what cannot be a token */
    assert_int_equal(auth_token_hash(NULL, again), -1);
    assert_int_equal(auth_token_hash("", again), -1);
    memcpy(bad, t1, AUTH_TOKEN_LEN + 1);
    bad[AUTH_TOKEN_LEN - 1] = '\0'; /* 42 */
    assert_int_equal(auth_token_hash(bad, again), -1);
    memcpy(bad, t1, AUTH_TOKEN_LEN);
    bad[AUTH_TOKEN_LEN] = 'A';
    bad[AUTH_TOKEN_LEN + 1] = '\0'; /* 44 */
    assert_int_equal(auth_token_hash(bad, again), -1);
    for (size_t i = 0; i < sizeof(not_b64); i++) {
        memcpy(bad, t1, AUTH_TOKEN_LEN + 1);
        bad[i * 5] = not_b64[i];
        if (auth_token_hash(bad, again) != -1)
            fail_msg("a token with byte 0x%02x accepted", (unsigned char)not_b64[i]);
    }
    /* every base64url character is fine */
    memset(bad, 0, sizeof(bad));
    for (int i = 0; i < AUTH_TOKEN_LEN; i++)
        bad[i] = i % 3 == 0 ? '-' : i % 3 == 1 ? '_' : (char)('a' + i % 26);
    assert_int_equal(auth_token_hash(bad, again), 0);
}

/* ------------------------------------------------------------------ */
/* rate limits                                                          */

static void test_ratelimit_names(void **state)
{
    struct ratelimit *rl = ratelimit_new(3, 100, 60);
    int wait;
    (void)state;

    assert_non_null(rl);
    /* three failures on a name: the next attempt waits */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ratelimit_check(rl, "alice", "10.0.0.1", T0 + i), 0);
        ratelimit_result(rl, "alice", 0, T0 + i);
    }
    wait = ratelimit_check(rl, "alice", "10.0.0.1", T0 + 5);
    assert_true(wait > 0 && wait <= 60);
    assert_int_equal(wait, 55); /* the window began with the first failure */
    /* from another address too: the limit is on the name */
    wait = ratelimit_check(rl, "alice", "10.9.9.9", T0 + 5);
    assert_true(wait > 0 && wait <= 60);
    /* names compare ignoring case */
    assert_true(ratelimit_check(rl, "ALICE", "10.0.0.1", T0 + 5) > 0);
    assert_true(ratelimit_check(rl, "Alice", "10.0.0.1", T0 + 5) > 0);
    /* other names are not limited */
    assert_int_equal(ratelimit_check(rl, "bob", "10.0.0.1", T0 + 5), 0);
    assert_int_equal(ratelimit_check(rl, "alice2", "10.0.0.1", T0 + 5), 0);
    /* the window over: allowed again */
    assert_int_equal(ratelimit_check(rl, "alice", "10.0.0.1", T0 + 61), 0);
    ratelimit_free(rl);

    /* a success clears the name's failures */
    rl = ratelimit_new(3, 100, 60);
    assert_non_null(rl);
    ratelimit_result(rl, "carol", 0, T0);
    ratelimit_result(rl, "carol", 0, T0 + 1);
    ratelimit_result(rl, "Carol", 1, T0 + 2);
    ratelimit_result(rl, "carol", 0, T0 + 3);
    ratelimit_result(rl, "carol", 0, T0 + 4);
    assert_int_equal(ratelimit_check(rl, "carol", "10.0.0.1", T0 + 5), 0); /* 2 since */
    ratelimit_result(rl, "carol", 0, T0 + 5);
    assert_true(ratelimit_check(rl, "carol", "10.0.0.1", T0 + 6) > 0);
    ratelimit_result(rl, "CAROL", 1, T0 + 6);
    assert_int_equal(ratelimit_check(rl, "carol", "10.0.0.1", T0 + 7), 0);
    ratelimit_free(rl);
    ratelimit_free(NULL);
}

static void test_ratelimit_addresses(void **state)
{
    struct ratelimit *rl = ratelimit_new(100, 5, 60);
    char name[32];
    int wait;
    (void)state;

    assert_non_null(rl);
    /* every attempt counts, whatever the name and the outcome */
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "user%d", i);
        assert_int_equal(ratelimit_check(rl, name, "192.0.2.7", T0 + i), 0);
        ratelimit_result(rl, name, 1, T0 + i);
    }
    wait = ratelimit_check(rl, "someone", "192.0.2.7", T0 + 10);
    assert_true(wait > 0 && wait <= 60);
    assert_int_equal(wait, 50);
    /* a refused attempt does not push the window on */
    assert_int_equal(ratelimit_check(rl, "someone", "192.0.2.7", T0 + 20), 40);
    /* another address is not limited */
    assert_int_equal(ratelimit_check(rl, "someone", "192.0.2.8", T0 + 20), 0);
    assert_int_equal(ratelimit_check(rl, "someone", "2001:db8::7", T0 + 20), 0);
    /* 61 s after the window began: allowed again, and counted anew */
    for (int i = 0; i < 5; i++)
        assert_int_equal(ratelimit_check(rl, "someone", "192.0.2.7", T0 + 61), 0);
    assert_true(ratelimit_check(rl, "someone", "192.0.2.7", T0 + 61) > 0);
    ratelimit_free(rl);
}

/* One failed login on some other name must not clear alice's failures:
 * else a guesser interleaves a name that shares alice's slot and the
 * per-name limit never holds. (The table has a fixed number of slots, so
 * a flood of names may evict her; one name must not.) */
static void test_ratelimit_other_name_keeps_failures(void **state)
{
    struct ratelimit *rl = ratelimit_new(3, 1000000, 900);
    char name[32];
    (void)state;

    assert_non_null(rl);
    for (int i = 0; i < 3; i++)
        ratelimit_result(rl, "alice", 0, T0);
    assert_true(ratelimit_check(rl, "alice", "10.0.0.1", T0) > 0);
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof(name), "x%d", i);
        ratelimit_result(rl, name, 0, T0 + 1);
        if (ratelimit_check(rl, "alice", "10.0.0.1", T0 + 1) == 0) {
            ratelimit_free(rl);
            fail_msg("one failed login on '%s' cleared alice's failures", name);
        }
    }
    ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_twice),
        cmocka_unit_test(test_password_policy),
        cmocka_unit_test(test_password_hash),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_ratelimit_names),
        cmocka_unit_test(test_ratelimit_addresses),
        cmocka_unit_test(test_ratelimit_other_name_keeps_failures),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
