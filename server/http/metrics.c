/* metrics.c — Prometheus text exposition.
 * Each worker owns its counters and is their only writer, so the hot path is
 * a plain increment (relaxed atomic store); /metrics sums them with relaxed
 * loads.  Counts may be a request or two behind, never torn. */
#include "http/server_int.h"

#include <string.h>

const double METRIC_BUCKET_LE[METRIC_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                 0.1,    0.25,  0.5,    1,     2.5,  5,     1e300};

/* A status's slot is its place in reply.c's table of the statuses we send;
 * the last slot counts anything else (a bug: reported as status="other0"). */
int metric_status_slot(int status)
{
    int i = http_status_slot(status);
    return i < 0 || i >= METRIC_STATUSES - 1 ? METRIC_STATUSES - 1 : i;
}

int metric_slot_status(int slot)
{
    return slot < http_status_count() && slot < METRIC_STATUSES - 1 ? http_status_at(slot) : 0;
}

#define INC(x) __atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED)
#define ADD(x, v) __atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + (v), __ATOMIC_RELAXED)
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

void metrics_observe(worker_t *w, const route_t *r, int status, uint64_t dur_ns)
{
    route_metrics_t *m = &w->metrics[r ? r->index : router_count()];
    INC(m->status[metric_status_slot(status)]);
    double s = (double)dur_ns / 1e9;
    int b = 0;
    while (b < METRIC_BUCKETS - 1 && s > METRIC_BUCKET_LE[b]) b++;
    INC(m->bucket[b]);
    ADD(m->sum_us, dur_ns / 1000);
}

void http_metrics_render(buf_t *out)
{
    int nr = router_count();
    buf_puts(out, "# HELP yizhan_http_requests_total HTTP requests answered, by route template, method and status.\n"
                  "# TYPE yizhan_http_requests_total counter\n");
    for (int ri = 0; ri <= nr; ri++) {
        const route_t *r = ri < nr ? router_get(ri) : NULL;
        for (int s = 0; s < METRIC_STATUSES; s++) {
            uint64_t v = 0;
            for (int w = 0; w < g_nworkers; w++) v += LOAD(g_workers[w].metrics[ri].status[s]);
            if (!v) continue;
            int st = metric_slot_status(s);
            buf_printf(out, "yizhan_http_requests_total{route=\"%s\",method=\"%s\",status=\"%s%d\"} %llu\n",
                       r ? r->path : "unmatched", r ? http_method_name(r->method) : "any", st ? "" : "other", st,
                       (unsigned long long)v);
        }
    }
    buf_puts(out, "# HELP yizhan_http_request_duration_seconds Time from a request's last byte to its reply.\n"
                  "# TYPE yizhan_http_request_duration_seconds histogram\n");
    for (int ri = 0; ri <= nr; ri++) {
        const route_t *r = ri < nr ? router_get(ri) : NULL;
        uint64_t cum = 0, sum_us = 0, counts[METRIC_BUCKETS] = {0};
        for (int w = 0; w < g_nworkers; w++) {
            for (int b = 0; b < METRIC_BUCKETS; b++) counts[b] += LOAD(g_workers[w].metrics[ri].bucket[b]);
            sum_us += LOAD(g_workers[w].metrics[ri].sum_us);
        }
        uint64_t total = 0;
        for (int b = 0; b < METRIC_BUCKETS; b++) total += counts[b];
        if (!total) continue;
        const char *name = r ? r->path : "unmatched", *method = r ? http_method_name(r->method) : "any";
        for (int b = 0; b < METRIC_BUCKETS; b++) {
            cum += counts[b];
            if (b == METRIC_BUCKETS - 1)
                buf_printf(out,
                           "yizhan_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",le=\"+Inf\"} %llu\n",
                           name, method, (unsigned long long)cum);
            else
                buf_printf(out,
                           "yizhan_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",le=\"%g\"} %llu\n",
                           name, method, METRIC_BUCKET_LE[b], (unsigned long long)cum);
        }
        buf_printf(out, "yizhan_http_request_duration_seconds_sum{route=\"%s\",method=\"%s\"} %.6f\n", name, method,
                   (double)sum_us / 1e6);
        buf_printf(out, "yizhan_http_request_duration_seconds_count{route=\"%s\",method=\"%s\"} %llu\n", name, method,
                   (unsigned long long)cum);
    }
    int conns = 0;
    uint64_t refused = 0;
    for (int w = 0; w < g_nworkers; w++) {
        conns += g_workers[w].nconns;
        refused += LOAD(g_workers[w].refused_per_client);
    }
    buf_printf(out,
               "# HELP yizhan_http_connections_refused_total Connections closed at accept because their client address"
               " held YIZHAN_MAX_CONNS_PER_CLIENT already.\n"
               "# TYPE yizhan_http_connections_refused_total counter\n"
               "yizhan_http_connections_refused_total{reason=\"per_client\"} %llu\n",
               (unsigned long long)refused);
    buf_printf(out,
               "# HELP yizhan_event_loops Event-loop worker threads (YIZHAN_THREADS, resolved).\n"
               "# TYPE yizhan_event_loops gauge\n"
               "yizhan_event_loops %d\n"
               "# HELP yizhan_http_connections Open client connections.\n"
               "# TYPE yizhan_http_connections gauge\n"
               "yizhan_http_connections %d\n",
               g_nworkers, conns);
    static_metrics(out);
    http_gzip_metrics(out);
}
