/*
 * cmd_train.c - `movierec train`: trains the models the system serves and
 * saves each as a new version with its report.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../model/dataset.h"
#include "../model/modelfile.h"
#include "../model/report.h"
#include "../model/train.h"
#include "../recall/bundle.h"
#include "../recall/pipeline_eval.h"
#include "../store/store.h"
#include "cli.h"

static const char usage[] =
    "movierec train [--label watch|like|recall] [--epochs N] [--seed S] [--threads T] [options]";

static void help(void)
{
    printf("usage: %s\n\n"
           "Trains the deep model (docs/MODEL.md) on the store and saves it as a new\n"
           "version under <home>/models/<label>/<version>/ with its report\n"
           "(metrics.csv, metrics.json, report.html). Without --label it trains every\n"
           "model the system serves: 'watch', 'like' and the recall channels\n"
           "('recall': item-CF, ALS and popularity from all ratings, saved under\n"
           "<home>/models/recall/<version>/).\n\n"
           "options:\n"
           "  --label L            watch: the probability of watching (every rating is a\n"
           "                       positive, 4 sampled negatives each); like: the probability\n"
           "                       of a rating >= --like-threshold (default 4); recall:\n"
           "                       the recall channels alone (seconds, no epochs)\n"
           "  --epochs N           at most N epochs (watch 10, like 6); early stopping after\n"
           "                       --patience epochs without a better validation metric\n"
           "                       (watch 3, like 2; 0 never stops early)\n"
           "  --seed S             the same seed and --threads give the same model (42)\n"
           "  --threads T          threads over each batch (2)\n"
           "  --batch B            samples per step (256)\n"
           "  --lr X               Adam learning rate (0.001)\n"
           "  --negatives K        watch: negatives per positive (4)\n"
           "  --id-dropout P       share of samples whose user/movie id is hidden, so the\n"
           "                       unknown rows learn cold start (0.02)\n"
           "  --min-word-count N   title words seen fewer times are 'unknown' (2)\n"
           "  --json               print each model's figures as a JSON line at the end\n",
           usage);
}

struct ui {
    struct progress bar;
    int epoch;
    const char *label;
};

static void on_progress(void *ctx, int epoch, int64_t done, int64_t total, double loss)
{
    struct ui *ui = ctx;
    if (epoch != ui->epoch) {
        char name[64];
        progress_end(&ui->bar);
        snprintf(name, sizeof(name), "%s epoch %d", ui->label, epoch);
        progress_begin(&ui->bar, name, (uint64_t)total);
        ui->bar.unit = "samples";
        ui->epoch = epoch;
    }
    snprintf(ui->bar.extra, sizeof(ui->bar.extra), "loss %.4f", loss);
    progress_update(&ui->bar, (uint64_t)done, (uint64_t)done);
}

static void on_epoch(void *ctx, const struct train_epoch *e)
{
    struct ui *ui = ctx;
    progress_end(&ui->bar);
    ui->epoch = 0;
    printf("%s epoch %2d  loss %.4f  val logloss %.4f  AUC %.4f", ui->label, e->epoch,
           e->train_loss, e->val_logloss, e->val_auc);
    if (e->hr10 >= 0)
        printf("  HR@10 %.4f  NDCG@10 %.4f", e->hr10, e->ndcg10);
    printf("  %.1fs %.0f samples/s%s\n", e->seconds, e->samples_per_s, e->best ? "  *" : "");
    fflush(stdout);
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

/* The run's description as JSON, for meta.json and the report. */
static void run_json(char *out, size_t cap, const struct train_opts *o, const struct dataset *d,
                     const char *dataset_name, const struct train_result *r, int version)
{
    const struct train_epoch *b = &r->epochs[r->best_epoch];
    snprintf(out, cap,
             "{\"label\": \"%s\", \"version\": %d, \"created\": %lld, \"dataset\": \"%s\", "
             "\"users\": %d, \"movies\": %d, \"ratings\": %lld, "
             "\"epochs_run\": %d, \"best_epoch\": %d, \"seed\": %llu, \"threads\": %d, "
             "\"batch\": %d, \"lr\": %g, \"negatives\": %d, \"like_threshold\": %g, "
             "\"id_dropout\": %g, \"min_word_count\": %d, "
             "\"metrics\": {\"val_logloss\": %.6f, \"val_auc\": %.6f, \"hr10\": %.6f, "
             "\"ndcg10\": %.6f}}",
             train_label_name(o->label), version, (long long)time(NULL), dataset_name,
             d->nusers - 1, d->nmovies - 1, (long long)d->nratings, r->nepochs, b->epoch,
             (unsigned long long)o->seed, o->threads, o->batch, o->lr, o->negatives,
             o->like_threshold, o->id_dropout, d->vocab.min_word_count, b->val_logloss, b->val_auc,
             b->hr10, b->ndcg10);
}

static int train_one(struct cli *c, const struct dataset *d, const char *dataset_name,
                     struct train_opts *o, int json, struct error *err)
{
    struct model_config cfg;
    struct model m;
    struct train_result *r = calloc(1, sizeof(*r));
    struct ui ui = {.label = train_label_name(o->label)};
    char dir[4096], path[4096], meta[2048], pending[2048];
    char *csv = NULL, *js = NULL, *html = NULL, title[128];
    int rc, version;
    double t0 = cli_now();

    if (!r)
        return error_set(err, ERR_NOMEM, "out of memory");
    model_config_default(&cfg, &d->vocab);
    if ((rc = model_init(&m, &cfg, err))) {
        free(r);
        return rc;
    }
    model_init_weights(&m, o->seed);
    o->on_progress = on_progress;
    o->on_epoch = on_epoch;
    o->ctx = &ui;
    printf("training '%s' on %d users, %d movies, %lld ratings (%d threads)\n", ui.label,
           d->nusers - 1, d->nmovies - 1, (long long)d->nratings, o->threads);
    fflush(stdout);
    if ((rc = train_run(&m, d, o, r, err)))
        goto out;
    snprintf(dir, sizeof(dir), "%s/models/%s", c->home, ui.label);
    /* the version number is known only once saved: describe the run with
     * the next number, which modelfile_save() will normally take */
    version = modelfile_latest(dir, err);
    if (version < 0) {
        rc = -version;
        goto out;
    }
    run_json(pending, sizeof(pending), o, d, dataset_name, r, version + 1);
    snprintf(title, sizeof(title), "movierec: training report, %s model", ui.label);
    csv = report_csv(r);
    js = report_json(r, pending);
    html = report_html(r, title, pending);
    if (!csv || !js || !html) {
        rc = error_set(err, ERR_NOMEM, "out of memory writing the report");
        goto out;
    }
    snprintf(meta, sizeof(meta), "%s\n", pending);
    {
        const struct modelfile_extra extra[] = {
            {"meta.json", meta}, {"metrics.csv", csv}, {"metrics.json", js}, {"report.html", html}};
        if ((rc = modelfile_save(dir, &m, &d->vocab, extra, 4, &version, path, sizeof(path), err)))
            goto out;
    }
    {
        const struct train_epoch *b = &r->epochs[r->best_epoch];
        printf("saved '%s' version %d: %s (epoch %d of %d)\n  report: %s/report.html\n", ui.label,
               version, path, b->epoch, r->nepochs, path);
        if (json)
            printf("{\"label\": \"%s\", \"version\": %d, \"train_samples_per_s\": %.1f, "
                   "\"score_pairs_per_s\": %.1f, \"peak_rss_mb\": %.1f, \"val_logloss\": %.6f, "
                   "\"val_auc\": %.6f, \"hr10\": %.6f, \"ndcg10\": %.6f, \"epochs\": %d, "
                   "\"train_gflops\": %.2f, \"seconds\": %.2f}\n",
                   ui.label, version, r->train_samples / (r->train_seconds + 1e-9),
                   r->score_pairs_per_s, peak_rss_mb(), b->val_logloss, b->val_auc, b->hr10,
                   b->ndcg10, r->nepochs,
                   3 * model_forward_flops(&m.cfg) * r->train_samples / (r->train_seconds + 1e-9) /
                       1e9,
                   cli_now() - t0);
    }
out:
    progress_end(&ui.bar);
    free(csv);
    free(js);
    free(html);
    free(r);
    model_free(&m);
    return rc;
}

/* 1 when two vocabularies index the same users and movies. */
static int same_ids(const struct vocab *a, const struct vocab *b)
{
    return a->nusers == b->nusers && a->nmovies == b->nmovies &&
           !memcmp(a->user_ids, b->user_ids, (size_t)a->nusers * sizeof(int64_t)) &&
           !memcmp(a->movie_ids, b->movie_ids, (size_t)a->nmovies * sizeof(int64_t)) &&
           a->genres.n == b->genres.n && a->words.n == b->words.n &&
           a->occupations.n == b->occupations.n;
}

/* The ranker's blend for the newest watch model: *fitted 0 (and a note)
 * when there is no watch model to fit it with. */
static int fit_blend(struct cli *c, const struct dataset *d, const struct recall_bundle_opts *o,
                     struct rec_blend *pre, struct rec_blend *out, struct error *err)
{
    char dir[4200];
    struct model m;
    struct vocab v;
    struct dataset own;
    const struct dataset *use = d;
    struct rec_opts ro;
    int version, rc;

    memset(out, 0, sizeof(*out));
    memset(pre, 0, sizeof(*pre));
    snprintf(dir, sizeof(dir), "%s/models/watch", c->home);
    if (modelfile_latest(dir, err) <= 0) {
        fprintf(stderr, "note: no watch model yet, so the ranker's blend is not fitted; "
                        "run 'movierec train' (all models) to fit it\n");
        return 0;
    }
    if ((rc = modelfile_load(dir, 0, &m, &v, &version, err)))
        return rc;
    if (!same_ids(&v, &d->vocab)) { /* the store changed since: read it with v */
        struct store *s = NULL;
        if (!(rc = cli_store_open(c, &s, err)))
            rc = dataset_load_with_vocab(&own, s, &v, err);
        store_close(s);
        if (rc)
            goto out;
        use = &own;
    }
    rec_opts_default(&ro);
    rc = pe_fit_blend_split(use, &m, &v, o, &ro, 5000, pre, out, err);
    if (use == &own)
        dataset_free(&own);
    if (rc == ERR_NOTFOUND) { /* too little data to fit: rank by the deep model */
        fprintf(stderr, "note: %s; the deep model alone will rank\n", err->msg);
        error_clear(err);
        memset(out, 0, sizeof(*out));
        memset(pre, 0, sizeof(*pre));
        rc = 0;
    }
out:
    model_free(&m);
    vocab_free(&v);
    return rc;
}

/* The recall channels on every rating, saved as a new bundle version. */
static int train_recall(struct cli *c, const struct dataset *d, const char *dataset_name,
                        int threads, uint64_t seed, int json, struct error *err)
{
    struct recall_bundle b;
    struct recall_bundle_opts o;
    char dir[4200], path[4200], meta[1024];
    double t0 = cli_now();
    int version, rc;

    recall_bundle_opts_default(&o);
    o.threads = threads;
    o.seed = seed;
    if (cli_tty())
        fprintf(stderr, "recall: item-CF, ALS (%d factors, %d iterations), popularity ...\n",
                o.als.factors, o.als.iterations);
    struct rec_blend blend, pre;
    if ((rc = fit_blend(c, d, &o, &pre, &blend, err)))
        return rc;
    if ((rc = recall_bundle_build(&b, d, NULL, &o, err)))
        return rc;
    b.blend = blend;
    b.pre = pre;
    snprintf(meta, sizeof(meta),
             "{\"label\": \"recall\", \"dataset\": \"%s\", \"ratings\": %lld, \"users\": %d, "
             "\"movies\": %d, \"als_factors\": %d, \"als_iterations\": %d, \"als_lambda\": %g, "
             "\"als_alpha\": %g, \"itemcf_neighbours\": %d, \"itemcf_min_score\": %g, "
             "\"blend_fitted\": %s, \"seed\": %llu, \"trained_at\": %lld, \"seconds\": %.2f}\n",
             dataset_name, (long long)b.nratings, d->nusers - 1, d->nmovies - 1, o.als.factors,
             o.als.iterations, o.als.lambda, o.als.alpha, o.cf.neighbours, o.cf.min_score,
             blend.fitted ? "true" : "false", (unsigned long long)seed, (long long)time(NULL), cli_now() - t0);
    snprintf(dir, sizeof(dir), "%s/models/recall", c->home);
    rc = recall_bundle_save(dir, &b, &d->vocab, meta, &version, path, sizeof(path), err);
    recall_bundle_free(&b);
    if (rc)
        return rc;
    printf("saved 'recall' version %d: %s (%.1f s)\n", version, path, cli_now() - t0);
    if (json)
        printf("{\"label\": \"recall\", \"version\": %d, \"seconds\": %.2f}\n", version,
               cli_now() - t0);
    return 0;
}

static int float_opt(const char *s, float lo, float hi, float *out)
{
    char *end;
    double v;
    if (!s)
        return -1;
    v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = (float)v;
    return 0;
}

int cmd_train(struct cli *c, int argc, char **argv)
{
    struct train_opts o[2];
    int labels[2] = {TRAIN_WATCH, TRAIN_LIKE}, nlabels = 2, json = 0, recall = 1;
    int64_t epochs = 0, seed = 42, threads = 2, batch = 256, neg = 4, mwc = 2, patience = -1;
    float lr = 0.001f, thr = 4.0f, idd = 0.02f;
    struct store *s = NULL;
    struct dataset d;
    struct error err = {0};
    char dataset_name[128];
    int rc;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is_help(a)) {
            help();
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
            continue;
        } else if (!strcmp(a, "--label")) {
            if (v && !strcmp(v, "watch"))
                labels[0] = TRAIN_WATCH;
            else if (v && !strcmp(v, "like"))
                labels[0] = TRAIN_LIKE;
            else if (!v || strcmp(v, "recall"))
                return cli_usage_fail(usage, "--label takes 'watch', 'like' or 'recall'");
            nlabels = v && !strcmp(v, "recall") ? 0 : 1;
            recall = nlabels == 0;
        } else if (!strcmp(a, "--epochs")) {
            if (cli_parse_count(v, &epochs) || epochs < 1 || epochs > TRAIN_MAX_EPOCHS)
                return cli_usage_fail(usage, "--epochs takes a number from 1 to %d",
                                      TRAIN_MAX_EPOCHS);
        } else if (!strcmp(a, "--seed")) {
            if (cli_parse_count(v, &seed))
                return cli_usage_fail(usage, "--seed takes a whole number");
        } else if (!strcmp(a, "--threads")) {
            if (cli_parse_count(v, &threads) || threads < 1 || threads > 64)
                return cli_usage_fail(usage, "--threads takes a number from 1 to 64");
        } else if (!strcmp(a, "--batch")) {
            if (cli_parse_count(v, &batch) || batch < 1 || batch > 65536)
                return cli_usage_fail(usage, "--batch takes a number from 1 to 65536");
        } else if (!strcmp(a, "--negatives")) {
            if (cli_parse_count(v, &neg) || neg < 1 || neg > 100)
                return cli_usage_fail(usage, "--negatives takes a number from 1 to 100");
        } else if (!strcmp(a, "--patience")) {
            if (cli_parse_count(v, &patience))
                return cli_usage_fail(usage, "--patience takes a whole number (0: never stop early)");
        } else if (!strcmp(a, "--min-word-count")) {
            if (cli_parse_count(v, &mwc) || mwc < 1)
                return cli_usage_fail(usage, "--min-word-count takes a number of at least 1");
        } else if (!strcmp(a, "--lr")) {
            if (float_opt(v, 1e-7f, 1.0f, &lr))
                return cli_usage_fail(usage, "--lr takes a number in (0, 1]");
        } else if (!strcmp(a, "--like-threshold")) {
            if (float_opt(v, 0.5f, 5.0f, &thr))
                return cli_usage_fail(usage, "--like-threshold takes a rating from 0.5 to 5");
        } else if (!strcmp(a, "--id-dropout")) {
            if (float_opt(v, 0.0f, 0.5f, &idd))
                return cli_usage_fail(usage, "--id-dropout takes a share from 0 to 0.5");
        } else {
            return cli_usage_fail(usage, "unknown option '%s'", a);
        }
        i++; /* every option above takes a value */
    }
    if ((rc = cli_store_open(c, &s, &err)) ||
        (rc = store_meta_get(s, "dataset", dataset_name, sizeof(dataset_name), &err))) {
        store_close(s);
        return cli_fail_err(&err);
    }
    rc = dataset_load(&d, s, (int)mwc, &err);
    store_close(s);
    if (rc)
        return cli_fail_err(&err);
    if ((rc = cli_home_make(c, &err))) {
        dataset_free(&d);
        return cli_fail_err(&err);
    }
    for (int k = 0; k < nlabels; k++) {
        train_opts_default(&o[k], (enum train_label)labels[k]);
        if (epochs)
            o[k].epochs = (int)epochs;
        o[k].seed = (uint64_t)seed;
        o[k].threads = (int)threads;
        o[k].batch = (int)batch;
        o[k].negatives = (int)neg;
        if (patience >= 0)
            o[k].patience = (int)patience;
        o[k].lr = lr;
        o[k].like_threshold = thr;
        o[k].id_dropout = idd;
        if ((rc = train_one(c, &d, dataset_name, &o[k], json, &err))) {
            dataset_free(&d);
            return cli_fail_err(&err);
        }
    }
    if (recall && (rc = train_recall(c, &d, dataset_name, (int)threads, (uint64_t)seed, json,
                                     &err))) {
        dataset_free(&d);
        return cli_fail_err(&err);
    }
    dataset_free(&d);
    return 0;
}
