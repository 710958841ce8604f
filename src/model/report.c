/*
 * report.c - metrics.csv, metrics.json and report.html of a training run.
 */
#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
    char *s;
    size_t n, cap;
    int oom;
};

static void bprintf(struct buf *b, const char *fmt, ...) ERROR_PRINTF(2, 3);

static void bprintf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int k;
    if (b->oom)
        return;
    for (;;) {
        va_start(ap, fmt);
        k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (nc < b->n + (size_t)k + 1)
            nc *= 2;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
}

static char *done(struct buf *b)
{
    if (b->oom) {
        free(b->s);
        return NULL;
    }
    return b->s;
}

static void num(struct buf *b, double v)
{
    if (v < 0)
        bprintf(b, "null");
    else
        bprintf(b, "%.6f", v);
}

char *report_csv(const struct train_result *r)
{
    struct buf b = {0};
    bprintf(&b, "epoch,train_loss,val_logloss,val_auc,hr10,ndcg10,seconds,samples_per_s,best\n");
    for (int i = 0; i < r->nepochs; i++) {
        const struct train_epoch *e = &r->epochs[i];
        bprintf(&b, "%d,%.6f,%.6f,%.6f,", e->epoch, e->train_loss, e->val_logloss, e->val_auc);
        if (e->hr10 >= 0)
            bprintf(&b, "%.6f,%.6f,", e->hr10, e->ndcg10);
        else
            bprintf(&b, ",,");
        bprintf(&b, "%.3f,%.0f,%d\n", e->seconds, e->samples_per_s, i == r->best_epoch);
    }
    return done(&b);
}

char *report_json(const struct train_result *r, const char *meta_json)
{
    struct buf b = {0};
    bprintf(&b, "{\"run\": %s, \"best_epoch\": %d, \"epochs\": [", meta_json ? meta_json : "{}",
            r->nepochs ? r->epochs[r->best_epoch].epoch : 0);
    for (int i = 0; i < r->nepochs; i++) {
        const struct train_epoch *e = &r->epochs[i];
        bprintf(&b, "%s\n  {\"epoch\": %d, \"train_loss\": ", i ? "," : "", e->epoch);
        num(&b, e->train_loss);
        bprintf(&b, ", \"val_logloss\": ");
        num(&b, e->val_logloss);
        bprintf(&b, ", \"val_auc\": ");
        num(&b, e->val_auc);
        bprintf(&b, ", \"hr10\": ");
        num(&b, e->hr10);
        bprintf(&b, ", \"ndcg10\": ");
        num(&b, e->ndcg10);
        bprintf(&b, ", \"seconds\": %.3f, \"samples_per_s\": %.0f}", e->seconds, e->samples_per_s);
    }
    bprintf(&b, "\n]}\n");
    return done(&b);
}

/* One SVG line chart of the series y[0..n) against epochs 1..n. */
static void chart(struct buf *b, const char *title, const double *y1, const char *name1,
                  const double *y2, const char *name2, int n)
{
    const int W = 360, H = 220, L = 48, R = 12, T = 28, B = 32;
    double lo = 1e300, hi = -1e300;
    for (int i = 0; i < n; i++) {
        if (y1[i] >= 0) {
            lo = y1[i] < lo ? y1[i] : lo;
            hi = y1[i] > hi ? y1[i] : hi;
        }
        if (y2 && y2[i] >= 0) {
            lo = y2[i] < lo ? y2[i] : lo;
            hi = y2[i] > hi ? y2[i] : hi;
        }
    }
    if (lo > hi) {
        lo = 0;
        hi = 1;
    }
    if (hi - lo < 1e-6) {
        hi += 0.01;
        lo -= 0.01;
    }
    bprintf(b, "<figure><svg viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s\">\n", W, H, title);
    bprintf(b, "<text x=\"%d\" y=\"18\" class=\"t\">%s</text>\n", L, title);
    for (int k = 0; k <= 4; k++) {
        double v = lo + (hi - lo) * k / 4;
        int y = T + (int)((H - T - B) * (1 - k / 4.0));
        bprintf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" class=\"g\"/>", L, W - R, y, y);
        bprintf(b, "<text x=\"%d\" y=\"%d\" class=\"a\" text-anchor=\"end\">%.3f</text>\n", L - 4,
                y + 4, v);
    }
    for (int i = 0; i < n; i++) {
        int x = L + (n > 1 ? (W - L - R) * i / (n - 1) : (W - L - R) / 2);
        bprintf(b, "<text x=\"%d\" y=\"%d\" class=\"a\" text-anchor=\"middle\">%d</text>", x,
                H - B + 16, i + 1);
    }
    for (int s = 0; s < 2; s++) {
        const double *y = s ? y2 : y1;
        if (!y)
            continue;
        bprintf(b, "<polyline class=\"s%d\" points=\"", s);
        for (int i = 0; i < n; i++) {
            if (y[i] < 0)
                continue;
            int x = L + (n > 1 ? (W - L - R) * i / (n - 1) : (W - L - R) / 2);
            int py = T + (int)((H - T - B) * (1 - (y[i] - lo) / (hi - lo)));
            bprintf(b, "%d,%d ", x, py);
        }
        bprintf(b, "\"/>\n");
        for (int i = 0; i < n; i++) {
            if (y[i] < 0)
                continue;
            int x = L + (n > 1 ? (W - L - R) * i / (n - 1) : (W - L - R) / 2);
            int py = T + (int)((H - T - B) * (1 - (y[i] - lo) / (hi - lo)));
            bprintf(b, "<circle class=\"s%d\" cx=\"%d\" cy=\"%d\" r=\"3\"><title>epoch %d: %.4f</title></circle>",
                    s, x, py, i + 1, y[i]);
        }
    }
    bprintf(b, "</svg><figcaption><span class=\"k0\"></span>%s", name1);
    if (y2)
        bprintf(b, " <span class=\"k1\"></span>%s", name2);
    bprintf(b, " (x: epoch)</figcaption></figure>\n");
}

static void html_escape(struct buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': bprintf(b, "&lt;"); break;
        case '>': bprintf(b, "&gt;"); break;
        case '&': bprintf(b, "&amp;"); break;
        case '"': bprintf(b, "&quot;"); break;
        default: bprintf(b, "%c", *s);
        }
    }
}

char *report_html(const struct train_result *r, const char *title, const char *meta_json)
{
    struct buf b = {0};
    double loss[TRAIN_MAX_EPOCHS] = {0}, vloss[TRAIN_MAX_EPOCHS] = {0}, auc[TRAIN_MAX_EPOCHS] = {0};
    double hr[TRAIN_MAX_EPOCHS] = {0}, ndcg[TRAIN_MAX_EPOCHS] = {0};
    int n = r->nepochs, has_hr = n > 0 && r->epochs[0].hr10 >= 0;

    for (int i = 0; i < n; i++) {
        loss[i] = r->epochs[i].train_loss;
        vloss[i] = r->epochs[i].val_logloss;
        auc[i] = r->epochs[i].val_auc;
        hr[i] = r->epochs[i].hr10;
        ndcg[i] = r->epochs[i].ndcg10;
    }
    bprintf(&b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    html_escape(&b, title);
    bprintf(&b, "</title>\n<style>\n"
                "body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}\n"
                "figure{display:inline-block;margin:0 1rem 1rem 0;width:min(100%%,24rem)}svg{width:100%%;background:#fafafa;border:1px solid #ddd}\n"
                ".t{font-weight:600;font-size:13px}.a{font-size:10px;fill:#666}.g{stroke:#e4e4e4}\n"
                "polyline{fill:none;stroke-width:2}.s0{stroke:#1f6fb2;fill:#1f6fb2}.s1{stroke:#d9661f;fill:#d9661f}\n"
                "polyline.s0,polyline.s1{fill:none}\n"
                "figcaption{font-size:13px;color:#555}.k0,.k1{display:inline-block;width:.8em;height:.8em;margin:0 .3em}\n"
                ".k0{background:#1f6fb2}.k1{background:#d9661f}\n"
                "table{border-collapse:collapse;margin:1rem 0}td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd;text-align:right}\n"
                "tr.best{background:#eef6ee}pre{background:#f5f5f5;padding:.6rem;white-space:pre-wrap;word-break:break-word}\n"
                "</style></head><body>\n<h1>");
    html_escape(&b, title);
    bprintf(&b, "</h1>\n");
    chart(&b, "Loss", loss, "training", vloss, "validation", n);
    chart(&b, "Validation AUC", auc, "AUC", NULL, NULL, n);
    if (has_hr)
        chart(&b, "HR@10 and NDCG@10", hr, "HR@10", ndcg, "NDCG@10", n);
    bprintf(&b, "<table><thead><tr><th>epoch</th><th>train loss</th><th>val logloss</th>"
                "<th>val AUC</th>%s<th>seconds</th><th>samples/s</th></tr></thead><tbody>\n",
            has_hr ? "<th>HR@10</th><th>NDCG@10</th>" : "");
    for (int i = 0; i < n; i++) {
        const struct train_epoch *e = &r->epochs[i];
        bprintf(&b, "<tr%s><td>%d%s</td><td>%.4f</td><td>%.4f</td><td>%.4f</td>",
                i == r->best_epoch ? " class=\"best\"" : "", e->epoch,
                i == r->best_epoch ? " (kept)" : "", e->train_loss, e->val_logloss, e->val_auc);
        if (has_hr)
            bprintf(&b, "<td>%.4f</td><td>%.4f</td>", e->hr10, e->ndcg10);
        bprintf(&b, "<td>%.1f</td><td>%.0f</td></tr>\n", e->seconds, e->samples_per_s);
    }
    bprintf(&b, "</tbody></table>\n<h2>Run</h2>\n<pre>");
    html_escape(&b, meta_json ? meta_json : "{}");
    bprintf(&b, "</pre>\n</body></html>\n");
    return done(&b);
}
