/*
 * cmd_evaluate.c - `movierec evaluate [--label L] [--version V] [--json]`:
 * the validation metrics of a saved model on the store as it is now, with
 * the split its training used (same seed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../model/dataset.h"
#include "../model/modelfile.h"
#include "../model/train.h"
#include "../recall/pipeline_eval.h"
#include "../store/store.h"
#include "cli.h"

static const char usage[] =
    "movierec evaluate [--label watch|like] [--version V] [--seed S] [--json]\n"
    "       movierec evaluate --pipeline [--version V] [--markdown|--json] [--threads T]\n"
    "                         [--max-users N] [--genre-cap N] [--quota CH=N,...]\n"
    "                         [--similar-beta B]";

static void row(const char *name, double v)
{
    if (v >= 0)
        printf("  %-12s %.4f\n", name, v);
    else
        printf("  %-12s %s\n", name, "-");
}

static void jnum(const char *name, double v, int last)
{
    if (v >= 0)
        printf("\"%s\": %.6f%s", name, v, last ? "" : ", ");
    else
        printf("\"%s\": null%s", name, last ? "" : ", ");
}

static void pe_progress(void *ctx, int done, int total)
{
    struct progress *p = ctx;
    (void)total;
    progress_update(p, (uint64_t)done, (uint64_t)done);
}

/* The blend's weights per standardised feature, for each half. */
static void print_blend(const struct pe_result *r)
{
    static const char *const names[BLEND_NFEAT] = {
        "deep", "als", "itemcf", "content", "pop", "z-deep", "z-als", "z-itemcf", "z-content",
        "last-itemcf", "last-cos", "genre"};
    for (int f = 0; f < 2; f++) {
        printf("blend fitted on half %d:", f + 1);
        for (int k = 0; k < BLEND_NFEAT; k++)
            printf(" %s %+.2f", names[k], (double)r->blend[f].w[k]);
        printf("\npre-ranker fitted on half %d:", f + 1);
        for (int k = 0; k < BLEND_NFEAT; k++)
            if (k != BLEND_DEEP && k != BLEND_ZDEEP)
                printf(" %s %+.2f", names[k], (double)r->pre[f].w[k]);
        printf("\n");
    }
}

/* evaluate --pipeline: every method on the leave-one-out split */
static int pipeline(struct cli *c, int version, int json, int markdown, const struct pe_opts *po)
{
    char dir[4200], name[128] = "";
    struct error err = {0};
    struct store *s = NULL;
    struct model m;
    struct vocab v;
    struct dataset d;
    struct pe_result r;
    struct pe_opts o = *po;
    struct progress bar;
    int loaded, rc;

    if (cli_store_open(c, &s, &err))
        return cli_fail_err(&err);
    store_meta_get(s, "dataset", name, sizeof(name), NULL);
    snprintf(dir, sizeof(dir), "%s/models/watch", c->home);
    if (modelfile_load(dir, version, &m, &v, &loaded, &err)) {
        store_close(s);
        return cli_fail_err(&err);
    }
    rc = dataset_load_with_vocab(&d, s, &v, &err);
    store_close(s);
    if (rc) {
        model_free(&m);
        vocab_free(&v);
        return cli_fail_err(&err);
    }
    progress_begin(&bar, "evaluating", (uint64_t)(o.max_users > 0 ? o.max_users : d.nusers - 1));
    bar.unit = "users";
    o.on_progress = pe_progress;
    o.ctx = &bar;
    rc = pipeline_evaluate(&d, &m, &v, &o, &r, &err);
    progress_end(&bar);
    dataset_free(&d);
    model_free(&m);
    vocab_free(&v);
    if (rc)
        return cli_fail_err(&err);
    if (json) {
        printf("{\"dataset\": \"%s\", \"watch_version\": %d, \"users\": %d, \"negatives\": %d, "
               "\"catalogue\": %d, \"seconds\": %.2f, \"methods\": {",
               name, loaded, r.users, r.negatives, r.catalogue, r.seconds);
        for (int k = 0; k < PE_NMETHODS; k++) {
            const struct pe_row *w = &r.rows[k];
            printf("%s\"%s\": {\"recall20\": %.6f, \"ndcg20\": %.6f, ", k ? ", " : "",
                   pe_method_name((enum pe_method)k), w->recall20, w->ndcg20);
            if (k < PE_SIM_DEEP)
                printf("\"hr10\": %.6f, \"ndcg10\": %.6f, ", w->hr10, w->ndcg10);
            else
                printf("\"hr10\": null, \"ndcg10\": null, ");
            printf("\"coverage\": %.6f, \"diversity\": %.4f}", w->coverage, w->diversity);
        }
        printf("}}\n");
        return 0;
    }
    if (markdown) {
        printf("| method | Recall@20 | NDCG@20 | HR@10 | NDCG@10 | coverage | diversity |\n"
               "|---|---:|---:|---:|---:|---:|---:|\n");
        for (int k = 0; k < PE_NMETHODS; k++) {
            const struct pe_row *w = &r.rows[k];
            char hr[16] = "-", nd[16] = "-";
            if (k < PE_SIM_DEEP) {
                snprintf(hr, sizeof(hr), "%.4f", w->hr10);
                snprintf(nd, sizeof(nd), "%.4f", w->ndcg10);
            }
            printf("| %s | %.4f | %.4f | %s | %s | %.3f | %.3f |\n",
                   pe_method_name((enum pe_method)k), w->recall20, w->ndcg20, hr, nd,
                   w->coverage, w->diversity);
        }
        printf("\n%s, watch model v%d, %d users, %d sampled negatives, %d movies; %.1f s "
               "(recall training %.1f s)\n",
               name, loaded, r.users, r.negatives, r.catalogue, r.seconds, r.train_seconds);
        print_blend(&r);
        return 0;
    }
    printf("pipeline evaluation on %s: watch model v%d, %d users (latest rating held out),\n"
           "full ranking over %d movies; HR/NDCG@10 among %d sampled negatives (%.1f s)\n\n",
           name, loaded, r.users, r.catalogue, r.negatives, r.seconds);
    printf("  %-14s %9s %8s %7s %8s %9s %10s\n", "method", "Recall@20", "NDCG@20", "HR@10",
           "NDCG@10", "coverage", "diversity");
    for (int k = 0; k < PE_NMETHODS; k++) {
        const struct pe_row *w = &r.rows[k];
        if (k == PE_SIM_DEEP)
            printf("  similar movies of each user's latest rating (blend: cosine + %g x item-CF):\n",
                   (double)r.similar_beta);
        printf("  %-14s %9.4f %8.4f ", pe_method_name((enum pe_method)k), w->recall20, w->ndcg20);
        if (k < PE_SIM_DEEP)
            printf("%7.4f %8.4f", w->hr10, w->ndcg10);
        else
            printf("%7s %8s", "-", "-");
        printf(" %9.3f %10.3f\n", w->coverage, w->diversity);
    }
    printf("\n");
    print_blend(&r);
    return 0;
}

int cmd_evaluate(struct cli *c, int argc, char **argv)
{
    int pipe = 0, markdown = 0;
    int64_t threads = 2, max_users = 0;
    struct pe_opts po;
    char msg[256];
    const char *labels[2] = {"watch", "like"};
    int nlabels = 2, json = 0;
    int64_t version = 0, seed = 42;
    char dir[4096];
    struct error err = {0};
    struct store *s = NULL;

    pe_opts_default(&po);
    for (int i = 1; i < argc; i++) {
        int k;
        if (cli_is_help(argv[i])) {
            printf("usage: %s\n\nPrints the validation metrics of the latest (or --version) model:\n"
                   "logloss and AUC, and for 'watch' HR@10 and NDCG@10 of each user's latest\n"
                   "rating ranked among 100 sampled unrated movies (leave-one-out). Without\n"
                   "--label, every model. --seed must match training's to use its split (42).\n\n"
                   "--pipeline evaluates every recall channel, popularity, the deep model and\n"
                   "the whole pipeline on that leave-one-out split (recall channels trained\n"
                   "here on the other ratings): Recall@20 and NDCG@20 over every unrated\n"
                   "movie, HR@10 and NDCG@10 among 100 sampled ones, catalogue coverage and\n"
                   "genre diversity of the top-10 lists (docs/EVALUATION.md). --markdown\n"
                   "prints the table for the docs; --max-users N evaluates N users only.\n",
                   usage);
            return 0;
        } else if (!strcmp(argv[i], "--pipeline")) {
            pipe = 1;
        } else if (!strcmp(argv[i], "--markdown")) {
            markdown = 1;
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if (cli_parse_count(argv[++i], &threads) || threads < 1 || threads > 16)
                return cli_usage_fail(usage, "--threads takes a number from 1 to 16");
        } else if (!strcmp(argv[i], "--similar-beta") && i + 1 < argc) {
            char *end;
            double b = strtod(argv[++i], &end);
            if (end == argv[i] || *end || !(b >= 0 && b <= 100))
                return cli_usage_fail(usage, "--similar-beta takes a number from 0 to 100");
            po.similar_beta = (float)b;
        } else if (!strcmp(argv[i], "--max-users") && i + 1 < argc) {
            if (cli_parse_count(argv[++i], &max_users))
                return cli_usage_fail(usage, "--max-users takes a whole number");
        } else if ((k = cli_rec_option(argc, argv, &i, &po.rec, msg, sizeof(msg))) != 0) {
            if (k < 0)
                return cli_usage_fail(usage, "%s", msg);
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--label") && i + 1 < argc) {
            labels[0] = argv[++i];
            nlabels = 1;
            if (strcmp(labels[0], "watch") && strcmp(labels[0], "like"))
                return cli_usage_fail(usage, "--label takes 'watch' or 'like'");
        } else if (!strcmp(argv[i], "--version") && i + 1 < argc) {
            if (cli_parse_count(argv[++i], &version) || version < 1)
                return cli_usage_fail(usage, "--version takes a version number");
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            if (cli_parse_count(argv[++i], &seed))
                return cli_usage_fail(usage, "--seed takes a whole number");
        } else {
            return cli_usage_fail(usage, "unknown argument '%s'", argv[i]);
        }
    }
    if (pipe) {
        if (nlabels == 1)
            return cli_usage_fail(usage, "--pipeline evaluates the watch model's pipeline; "
                                         "leave out --label");
        po.threads = (int)threads;
        po.max_users = (int)max_users;
        po.seed = (uint64_t)seed;
        return pipeline(c, (int)version, json, markdown, &po);
    }
    if (cli_store_open(c, &s, &err))
        return cli_fail_err(&err);
    for (int k = 0; k < nlabels; k++) {
        struct model m;
        struct vocab v;
        struct dataset d;
        struct train_opts o;
        struct eval_metrics e;
        int loaded, rc;

        snprintf(dir, sizeof(dir), "%s/models/%s", c->home, labels[k]);
        if (modelfile_load(dir, (int)version, &m, &v, &loaded, &err)) {
            store_close(s);
            return cli_fail_err(&err);
        }
        rc = dataset_load_with_vocab(&d, s, &v, &err);
        if (!rc) {
            train_opts_default(&o, strcmp(labels[k], "like") ? TRAIN_WATCH : TRAIN_LIKE);
            o.seed = (uint64_t)seed;
            rc = train_evaluate(&m, &d, &o, &e, &err);
            dataset_free(&d);
        }
        model_free(&m);
        vocab_free(&v);
        if (rc) {
            store_close(s);
            return cli_fail_err(&err);
        }
        if (json) {
            printf("{\"label\": \"%s\", \"version\": %d, \"pairs\": %lld, ", labels[k], loaded,
                   (long long)e.pairs);
            jnum("logloss", e.logloss, 0);
            jnum("auc", e.auc, 0);
            jnum("hr10", e.hr10, 0);
            jnum("ndcg10", e.ndcg10, 1);
            printf("}\n");
        } else {
            printf("%s model, version %d (%lld validation pairs)\n", labels[k], loaded,
                   (long long)e.pairs);
            row("logloss", e.logloss);
            row("AUC", e.auc);
            row("HR@10", e.hr10);
            row("NDCG@10", e.ndcg10);
        }
    }
    store_close(s);
    return 0;
}
