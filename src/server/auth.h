/*
 * auth.h - passwords, session tokens and login rate limits for the server.
 *
 * Passwords are hashed with Argon2id (libsodium's crypto_pwhash_str,
 * interactive limits); at most AUTH_HASH_SLOTS hashes run at once, so a
 * flood of logins cannot take the machine's memory (each needs 64 MiB).
 * A session token is 32 random bytes sent to the client in base64url; the
 * store keeps only its BLAKE2b hash, so a stolen database opens no
 * session. Nothing here logs or returns a password, hash or token except
 * to its caller.
 *
 * auth_init() once before any other call (it initialises libsodium).
 */
#ifndef MOVIEREC_AUTH_H
#define MOVIEREC_AUTH_H

#include <stdint.h>

#include "../store/store.h"
#include "../util/error.h"

#define AUTH_TOKEN_LEN 43    /* base64url of 32 bytes, no padding */
#define AUTH_PASSWORD_MIN 8
#define AUTH_PASSWORD_MAX 1024
#define AUTH_HASH_SLOTS 2

int auth_init(struct error *err);

/* ERR_PARSE with the reason when the password breaks the policy
 * (8..1024 bytes, valid UTF-8). */
int auth_password_check(const char *pw, struct error *err);
/* Hash into out (STORE_HASH_MAX bytes). */
int auth_password_hash(const char *pw, char *out, struct error *err);
/* 1 when pw matches hash, 0 otherwise (also for an empty hash). */
int auth_password_verify(const char *hash, const char *pw);

/* A new token (AUTH_TOKEN_LEN + 1 bytes, NUL-terminated) and its hash. */
void auth_token_new(char *token, unsigned char hash[32]);
/* The hash of a token from a cookie; -1 when it cannot be a token. */
int auth_token_hash(const char *token, unsigned char hash[32]);

/* Login rate limits: per account name, failures in a fixed window; per
 * client address, every attempt. Thread-safe; fixed memory: names and
 * addresses in separate tables of 4-way buckets, where a new key takes an
 * expired slot, else the one with the fewest counts — so a stream of
 * attempts on other names cannot wipe out one name's failures. */
struct ratelimit;
struct ratelimit *ratelimit_new(int name_failures, int addr_attempts, int window_s);
void ratelimit_free(struct ratelimit *rl);
/* 0 when an attempt may go ahead, else the seconds to wait. Counts the
 * attempt against addr. */
int ratelimit_check(struct ratelimit *rl, const char *name, const char *addr, int64_t now);
/* A failed attempt on name; a success clears name's failures. */
void ratelimit_result(struct ratelimit *rl, const char *name, int ok, int64_t now);

#endif
