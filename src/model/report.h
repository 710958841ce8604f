/*
 * report.h - the training report: per-epoch metrics as CSV and JSON, and
 * an HTML page with SVG learning curves (loss, AUC, HR@10 per epoch).
 * Each function returns a malloc'd string (the caller frees it) or NULL
 * when out of memory.
 */
#ifndef MOVIEREC_REPORT_H
#define MOVIEREC_REPORT_H

#include "train.h"

char *report_csv(const struct train_result *r);
/* meta: the run's description as a JSON object text (label, options,
 * data set); embedded in the JSON and shown on the page. */
char *report_json(const struct train_result *r, const char *meta_json);
char *report_html(const struct train_result *r, const char *title, const char *meta_json);

#endif
