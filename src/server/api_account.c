/*
 * api_account.c - accounts and profiles: register, login, logout, the
 * current user, personal information and interest tags (SUMMARY.md 3.1,
 * 3.2). Passwords and tokens never appear in a reply or a log line.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"

/* ---- shared ---- */

static json_t *account_json(const struct store_account *u)
{
    char g[2] = {u->gender, 0};
    return json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:I, s:b}", "id", (json_int_t)u->id,
                     "name", u->name, "gender", u->gender ? json_string(g) : json_null(), "age",
                     u->age ? json_integer(u->age) : json_null(), "occupation",
                     u->occupation[0] ? json_string(u->occupation) : json_null(), "zip",
                     u->zip[0] ? json_string(u->zip) : json_null(), "created",
                     (json_int_t)u->created, "can_login", u->has_password);
}

/* A string member: NULL when absent or null; -1 with 400 when not a
 * string. */
static int get_str(json_t *o, const char *key, const char **out, struct http_res *res)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        http_res_error(res, 400, "bad_request", "'%s' must be a string", key);
        return -1;
    }
    *out = json_string_value(v);
    if (strlen(*out) != json_string_length(v)) {
        http_res_error(res, 400, "bad_request", "'%s' must not contain NUL characters", key);
        return -1;
    }
    return 0;
}

/* gender ("M", "F", "" or null), age (integer or null) from o: -1 with 400 */
static int get_person(json_t *o, char *gender, int *age, struct http_res *res)
{
    const char *g;
    json_t *a = json_object_get(o, "age");
    if (get_str(o, "gender", &g, res))
        return -1;
    if (g && strcmp(g, "M") && strcmp(g, "F") && g[0]) {
        http_res_error(res, 400, "bad_request", "'gender' must be \"M\", \"F\" or null");
        return -1;
    }
    *gender = g && g[0] ? g[0] : 0;
    if (a && !json_is_null(a)) {
        if (!json_is_integer(a) || json_integer_value(a) < 1 || json_integer_value(a) > 150) {
            http_res_error(res, 400, "bad_request", "'age' must be a whole number from 1 to 150");
            return -1;
        }
        *age = (int)json_integer_value(a);
    } else {
        *age = 0;
    }
    return 0;
}

/* A list of strings (at most max) into out; -1 with 400. */
static int get_list(json_t *o, const char *key, const char **out, int max, int *n,
                    struct http_res *res)
{
    json_t *v = json_object_get(o, key), *x;
    size_t i;
    *n = -1; /* absent */
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v) || (int)json_array_size(v) > max) {
        http_res_error(res, 400, "bad_request", "'%s' must be a list of at most %d strings", key,
                       max);
        return -1;
    }
    *n = 0;
    json_array_foreach(v, i, x)
    {
        if (!json_is_string(x)) {
            http_res_error(res, 400, "bad_request", "'%s' must be a list of strings", key);
            return -1;
        }
        out[(*n)++] = json_string_value(x);
    }
    return 0;
}

/* Starts a session for user: Set-Cookie on res. -1 with 500 on failure. */
static int start_session(struct app *a, struct worker *w, int64_t user, struct http_res *res)
{
    char token[AUTH_TOKEN_LEN + 1], cookie[256];
    unsigned char hash[32];
    struct error err = {0};
    int64_t now = app_now(), ttl = (int64_t)a->o.session_days * 86400;
    int rc;
    auth_token_new(token, hash);
    if ((rc = store_session_create(w->s, hash, user, now, now + ttl, &err))) {
        app_error(a, res, rc, &err);
        return -1;
    }
    snprintf(cookie, sizeof(cookie), "session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld",
             token, (long long)ttl);
    http_res_header(res, "Set-Cookie", cookie);
    return 0;
}

/* ---- routes ---- */

void api_register(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct worker *w = app_worker(a, res);
    const char *name, *pw, *occ, *genres[33];
    char hash[STORE_HASH_MAX], gender;
    int age, ngenres, rc;
    int64_t id;
    struct error err = {0};
    struct store_account u;
    json_t *body;

    if (!w || app_check_csrf(req, res) || !(body = http_req_json(req, res)))
        return;
    if (get_str(body, "name", &name, res) || get_str(body, "password", &pw, res) ||
        get_str(body, "occupation", &occ, res) || get_person(body, &gender, &age, res) ||
        get_list(body, "genres", genres, 32, &ngenres, res))
        goto out;
    if (!name || !name[0]) {
        http_res_error(res, 400, "bad_request", "'name' is required");
        goto out;
    }
    if (auth_password_check(pw, &err)) {
        http_res_error(res, 400, "bad_password", "%s", err.msg);
        goto out;
    }
    if (ratelimit_check(a->rl, "", req->remote, app_now()) > 0) {
        http_res_error(res, 429, "too_many_attempts", "too many attempts; wait a while");
        goto out;
    }
    /* a taken name answers before the slow hash */
    if (store_account_by_name(w->s, name, &u, NULL, 0, &err) == 0) {
        http_res_error(res, 409, "name_taken", "the name '%s' is taken; choose another", u.name);
        goto out;
    }
    if (auth_password_hash(pw, hash, &err)) {
        app_error(a, res, ERR_NOMEM, &err);
        goto out;
    }
    rc = store_account_create(w->s, name, hash, gender, age, occ ? occ : "", app_now(), &id,
                              &err);
    if (rc == ERR_EXISTS) {
        http_res_error(res, 409, "name_taken", "%s", err.msg);
        goto out;
    }
    if (rc) {
        app_error(a, res, rc, &err);
        goto out;
    }
    if (ngenres > 0 &&
        (rc = store_interests_set(w->s, id, genres, ngenres, NULL, 0, app_now(), &err))) {
        app_error(a, res, rc, &err); /* the account exists; the profile page can fix it */
        goto out;
    }
    if (start_session(a, w, id, res) || (rc = store_account_get(w->s, id, &u, &err))) {
        if (!res->status)
            app_error(a, res, rc, &err);
        goto out;
    }
    app_log(a, "account %lld registered", (long long)id);
    http_res_json(res, 201, json_pack("{s:o}", "user", account_json(&u)));
out:
    json_decref(body);
}

void api_login(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct worker *w = app_worker(a, res);
    const char *name, *pw;
    char hash[STORE_HASH_MAX], retry[16];
    struct store_account u;
    struct error err = {0};
    json_t *body;
    int wait, rc;

    if (!w || app_check_csrf(req, res) || !(body = http_req_json(req, res)))
        return;
    if (get_str(body, "name", &name, res) || get_str(body, "password", &pw, res))
        goto out;
    if (!name || !name[0] || !pw) {
        http_res_error(res, 400, "bad_request", "'name' and 'password' are required");
        goto out;
    }
    if ((wait = ratelimit_check(a->rl, name, req->remote, app_now())) > 0) {
        snprintf(retry, sizeof(retry), "%d", wait);
        http_res_header(res, "Retry-After", retry);
        http_res_error(res, 429, "too_many_attempts",
                       "too many login attempts; try again in %d seconds", wait);
        goto out;
    }
    rc = store_account_by_name(w->s, name, &u, hash, sizeof(hash), &err);
    if (rc == ERR_NOTFOUND) {
        ratelimit_result(a->rl, name, 0, app_now());
        http_res_error(res, 404, "unknown_name", "there is no account named '%s'; register it",
                       name);
        goto out;
    }
    if (rc) {
        app_error(a, res, rc, &err);
        goto out;
    }
    if (!hash[0]) {
        http_res_error(res, 401, "no_password",
                       "this account has no password yet (an operator can set one with "
                       "'movierec user passwd %s')", u.name);
        goto out;
    }
    if (!auth_password_verify(hash, pw)) {
        ratelimit_result(a->rl, name, 0, app_now());
        http_res_error(res, 401, "wrong_password", "wrong password");
        goto out;
    }
    ratelimit_result(a->rl, name, 1, app_now());
    if (start_session(a, w, u.id, res))
        goto out;
    http_res_json(res, 200, json_pack("{s:o}", "user", account_json(&u)));
out:
    json_decref(body);
}

void api_logout(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct worker *w = app_worker(a, res);
    unsigned char hash[32];
    const char *tok;
    if (!w || app_check_csrf(req, res))
        return;
    tok = http_cookie(req, "session");
    if (tok && auth_token_hash(tok, hash) == 0)
        app_session_end(a, w, hash);
    http_res_header(res, "Set-Cookie", "session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    http_res_json(res, 200, json_pack("{s:b}", "ok", 1));
}

void api_me(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct worker *w = app_worker(a, res);
    struct store_account u;
    struct error err = {0};
    int64_t user;
    int rc;
    if (!w || app_require_user(a, w, req, res, &user))
        return;
    if ((rc = store_account_get(w->s, user, &u, &err))) {
        app_error(a, res, rc, &err);
        return;
    }
    http_res_json(res, 200, json_pack("{s:o}", "user", account_json(&u)));
}

struct interests {
    json_t *genres, *tags;
};

static int add_interest(void *ctx, enum store_interest kind, const char *value)
{
    struct interests *in = ctx;
    json_array_append_new(kind == STORE_INTEREST_GENRE ? in->genres : in->tags,
                          json_string(value));
    return 0;
}

static void profile_reply(struct app *a, struct worker *w, int64_t user, struct http_res *res)
{
    struct store_account u;
    struct error err = {0};
    struct interests in = {json_array(), json_array()};
    int rc;
    if ((rc = store_account_get(w->s, user, &u, &err)) ||
        (rc = store_interests_get(w->s, user, add_interest, &in, &err))) {
        json_decref(in.genres);
        json_decref(in.tags);
        app_error(a, res, rc, &err);
        return;
    }
    http_res_json(res, 200,
                  json_pack("{s:o, s:{s:o, s:o}}", "user", account_json(&u), "interests",
                            "genres", in.genres, "tags", in.tags));
}

void api_profile_get(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct worker *w = app_worker(a, res);
    int64_t user;
    if (!w || app_require_user(a, w, req, res, &user))
        return;
    profile_reply(a, w, user, res);
}

void api_profile_put(void *app, struct http_req *req, struct http_res *res)
{
    struct app *a = app;
    struct worker *w = app_worker(a, res);
    const char *occ, *zip, *genres[33], *tags[33];
    struct store_account u;
    struct error err = {0};
    struct interests in = {NULL, NULL};
    int64_t user;
    int ngenres, ntags, rc, age;
    char gender;
    json_t *body;

    if (!w || app_require_user(a, w, req, res, &user) || app_check_csrf(req, res) ||
        !(body = http_req_json(req, res)))
        return;
    if (get_str(body, "occupation", &occ, res) || get_str(body, "zip", &zip, res) ||
        get_person(body, &gender, &age, res) ||
        get_list(body, "genres", genres, 32, &ngenres, res) ||
        get_list(body, "tags", tags, 32, &ntags, res))
        goto out;
    if ((rc = store_account_get(w->s, user, &u, &err))) {
        app_error(a, res, rc, &err);
        goto out;
    }
    /* a member left out keeps its value; null clears it */
    if (!json_object_get(body, "gender"))
        gender = u.gender;
    if (!json_object_get(body, "age"))
        age = u.age;
    if (!json_object_get(body, "occupation"))
        occ = u.occupation;
    if (!json_object_get(body, "zip"))
        zip = u.zip;
    if ((rc = store_account_update(w->s, user, gender, age, occ ? occ : "", zip ? zip : "",
                                   app_now(), &err))) {
        app_error(a, res, rc, &err);
        goto out;
    }
    if (ngenres >= 0 || ntags >= 0) {
        /* the list not given keeps its items */
        const char *keep_g[33], *keep_t[33];
        int ng = 0, nt = 0;
        in.genres = json_array();
        in.tags = json_array();
        if ((rc = store_interests_get(w->s, user, add_interest, &in, &err))) {
            app_error(a, res, rc, &err);
            goto out;
        }
        if (ngenres < 0) {
            for (size_t i = 0; i < json_array_size(in.genres) && ng < 32; i++)
                keep_g[ng++] = json_string_value(json_array_get(in.genres, i));
        } else {
            memcpy(keep_g, genres, sizeof(*genres) * (size_t)ngenres);
            ng = ngenres;
        }
        if (ntags < 0) {
            for (size_t i = 0; i < json_array_size(in.tags) && nt < 32; i++)
                keep_t[nt++] = json_string_value(json_array_get(in.tags, i));
        } else {
            memcpy(keep_t, tags, sizeof(*tags) * (size_t)ntags);
            nt = ntags;
        }
        if ((rc = store_interests_set(w->s, user, keep_g, ng, keep_t, nt, app_now(), &err))) {
            app_error(a, res, rc, &err);
            goto out;
        }
    }
    online_forget(a->online, user);
    profile_reply(a, w, user, res);
out:
    json_decref(in.genres);
    json_decref(in.tags);
    json_decref(body);
}
