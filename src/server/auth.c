/*
 * auth.c - Argon2id passwords, session tokens, login rate limits (auth.h).
 */
#include "auth.h"

#include <ctype.h>
#include <pthread.h>
#include <semaphore.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "../util/text.h"

static sem_t hash_slots;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int init_rc;

static void init_once(void)
{
    if (sodium_init() < 0 || sem_init(&hash_slots, 0, AUTH_HASH_SLOTS) != 0)
        init_rc = -1;
}

int auth_init(struct error *err)
{
    pthread_once(&once, init_once);
    if (init_rc)
        return error_set(err, ERR_NOMEM, "cannot initialise libsodium");
    return 0;
}

int auth_password_check(const char *pw, struct error *err)
{
    size_t n = pw ? strlen(pw) : 0;
    if (n < AUTH_PASSWORD_MIN)
        return error_set(err, ERR_PARSE, "the password must have at least %d characters (bytes)",
                         AUTH_PASSWORD_MIN);
    if (n > AUTH_PASSWORD_MAX)
        return error_set(err, ERR_PARSE, "the password must have at most %d bytes",
                         AUTH_PASSWORD_MAX);
    if (!text_utf8_valid(pw, n))
        return error_set(err, ERR_PARSE, "the password is not valid UTF-8");
    return 0;
}

int auth_password_hash(const char *pw, char *out, struct error *err)
{
    int rc;
    if (STORE_HASH_MAX < crypto_pwhash_STRBYTES)
        return error_set(err, ERR_NOMEM, "hash buffer too small");
    while (sem_wait(&hash_slots) != 0)
        ;
    rc = crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                           crypto_pwhash_MEMLIMIT_INTERACTIVE);
    sem_post(&hash_slots);
    if (rc != 0)
        return error_set(err, ERR_NOMEM, "not enough memory to hash the password");
    return 0;
}

int auth_password_verify(const char *hash, const char *pw)
{
    int rc;
    if (!hash || !hash[0] || !pw)
        return 0;
    while (sem_wait(&hash_slots) != 0)
        ;
    rc = crypto_pwhash_str_verify(hash, pw, strlen(pw));
    sem_post(&hash_slots);
    return rc == 0;
}

void auth_token_new(char *token, unsigned char hash[32])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(token, AUTH_TOKEN_LEN + 1, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    crypto_generichash(hash, 32, (const unsigned char *)token, AUTH_TOKEN_LEN, NULL, 0);
}

int auth_token_hash(const char *token, unsigned char hash[32])
{
    if (!token || strlen(token) != AUTH_TOKEN_LEN)
        return -1;
    for (int i = 0; i < AUTH_TOKEN_LEN; i++) {
        unsigned char c = (unsigned char)token[i];
        if (!isalnum(c) && c != '-' && c != '_')
            return -1;
    }
    crypto_generichash(hash, 32, (const unsigned char *)token, AUTH_TOKEN_LEN, NULL, 0);
    return 0;
}

/* ---- rate limits: fixed windows in fixed tables ---- */

#define RL_BUCKETS 4096
#define RL_WAYS 4

struct rl_slot {
    uint64_t key; /* 0: free */
    int64_t start;
    int count;
};

struct ratelimit {
    pthread_mutex_t mu;
    int name_failures, addr_attempts, window;
    struct rl_slot names[RL_BUCKETS * RL_WAYS], addrs[RL_BUCKETS * RL_WAYS];
};

struct ratelimit *ratelimit_new(int name_failures, int addr_attempts, int window_s)
{
    struct ratelimit *rl = calloc(1, sizeof(*rl));
    if (!rl)
        return NULL;
    pthread_mutex_init(&rl->mu, NULL);
    rl->name_failures = name_failures;
    rl->addr_attempts = addr_attempts;
    rl->window = window_s > 0 ? window_s : 60;
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}

/* FNV-1a of the text (names folded to lower case) */
static uint64_t rl_key(int fold, const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (fold)
            c = (unsigned char)tolower(c);
        h = (h ^ c) * 1099511628211ULL;
    }
    return h | 1; /* 0 marks a free slot */
}

/* The key's slot with its window brought up to date: the key's own, else
 * a free or expired one, else the one with the fewest counts. */
static struct rl_slot *rl_find(struct ratelimit *rl, struct rl_slot *table, uint64_t key,
                               int64_t now)
{
    struct rl_slot *b = &table[(key >> 20) % RL_BUCKETS * RL_WAYS], *pick = NULL;
    for (int i = 0; i < RL_WAYS; i++)
        if (b[i].key == key) {
            pick = &b[i];
            break;
        }
    if (!pick) {
        for (int i = 0; i < RL_WAYS && !pick; i++)
            if (!b[i].key || now - b[i].start >= rl->window)
                pick = &b[i];
        if (!pick) {
            pick = &b[0];
            for (int i = 1; i < RL_WAYS; i++)
                if (b[i].count < pick->count)
                    pick = &b[i];
        }
        pick->key = key;
        pick->start = now;
        pick->count = 0;
    } else if (now - pick->start >= rl->window) {
        pick->start = now;
        pick->count = 0;
    }
    return pick;
}

int ratelimit_check(struct ratelimit *rl, const char *name, const char *addr, int64_t now)
{
    int wait = 0;
    struct rl_slot *s;
    pthread_mutex_lock(&rl->mu);
    s = rl_find(rl, rl->addrs, rl_key(0, addr), now);
    if (s->count >= rl->addr_attempts)
        wait = (int)(s->start + rl->window - now);
    else
        s->count++;
    if (!wait) {
        s = rl_find(rl, rl->names, rl_key(1, name), now);
        if (s->count >= rl->name_failures)
            wait = (int)(s->start + rl->window - now);
    }
    pthread_mutex_unlock(&rl->mu);
    return wait > 0 ? wait : (wait < 0 ? 1 : 0);
}

void ratelimit_result(struct ratelimit *rl, const char *name, int ok, int64_t now)
{
    struct rl_slot *s;
    pthread_mutex_lock(&rl->mu);
    s = rl_find(rl, rl->names, rl_key(1, name), now);
    if (ok)
        s->count = 0;
    else
        s->count++;
    pthread_mutex_unlock(&rl->mu);
}
