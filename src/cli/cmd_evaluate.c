/*
 * cmd_evaluate.c - `movierec evaluate [--label L] [--version V] [--json]`:
 * the validation metrics of a saved model on the store as it is now, with
 * the split its training used (same seed).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../model/dataset.h"
#include "../model/modelfile.h"
#include "../model/train.h"
#include "../store/store.h"
#include "cli.h"

static const char usage[] = "movierec evaluate [--label watch|like] [--version V] [--seed S] [--json]";

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

int cmd_evaluate(struct cli *c, int argc, char **argv)
{
    const char *labels[2] = {"watch", "like"};
    int nlabels = 2, json = 0;
    int64_t version = 0, seed = 42;
    char dir[4096];
    struct error err = {0};
    struct store *s = NULL;

    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: %s\n\nPrints the validation metrics of the latest (or --version) model:\n"
                   "logloss and AUC, and for 'watch' HR@10 and NDCG@10 of each user's latest\n"
                   "rating ranked among 100 sampled unrated movies (leave-one-out). Without\n"
                   "--label, every model. --seed must match training's to use its split (42).\n",
                   usage);
            return 0;
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
