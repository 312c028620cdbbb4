/* Unit tests of the latency histogram: bucket arithmetic, exact
 * statistics, and percentiles of known distributions against the exact
 * order statistics. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "tap.h"

/* Relative error of got against want. */
static double rel(double got, double want)
{
	if (want == 0)
		return got == 0 ? 0 : 1;
	return fabs(got - want) / want;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The exact value at percentile p of sorted v[0..n): the smallest value
 * with at least p% of the values at or below it. */
static uint64_t exact_percentile(const uint64_t *v, size_t n, double p)
{
	double rank = ceil(p / 100.0 * (double)n - 1e-9);

	if (rank < 1)
		rank = 1;
	return v[(size_t)rank - 1];
}

/* A small deterministic generator (xorshift64*), so runs are repeatable. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static double uniform01(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 2685821657736338717ULL) >> 11) /
	       9007199254740992.0;
}

static void test_buckets(void)
{
	unsigned i, bad_order = 0, bad_index = 0, bad_width = 0;
	uint64_t lo, hi;

	for (i = 0; i < WSK_HIST_BUCKETS; i++) {
		lo = wsk_hist_lowest(i);
		hi = wsk_hist_highest(i);
		if (lo > hi || (i + 1 < WSK_HIST_BUCKETS &&
				wsk_hist_lowest(i + 1) != hi + 1))
			bad_order++;
		if (wsk_hist_index(lo) != i || wsk_hist_index(hi) != i)
			bad_index++;
		if (hi > lo && (double)(hi - lo + 1) / (double)lo > 1.0 / 128)
			bad_width++;
	}
	ok(bad_order == 0, "buckets are contiguous and ordered (%u bad)",
	   bad_order);
	ok(bad_index == 0, "index() maps both ends of each bucket to it");
	ok(bad_width == 0,
	   "no bucket of several values is wider than 1/128 of them");
	ok(wsk_hist_lowest(0) == 0 &&
	       wsk_hist_highest(WSK_HIST_BUCKETS - 1) == WSK_HIST_MAX,
	   "buckets cover 0 to WSK_HIST_MAX");
	for (i = 0; i < 256; i++)
		if (wsk_hist_index(i) != i || wsk_hist_highest(i) != i)
			break;
	ok(i == 256, "values below 256 are exact");
	ok(wsk_hist_index(WSK_HIST_MAX + 1000) == WSK_HIST_BUCKETS - 1,
	   "values past the top go to the last bucket");
	ok(sizeof(struct wsk_hist) <= 40 * 1024,
	   "a histogram takes %zu bytes, at most 40 KiB",
	   sizeof(struct wsk_hist));
}

static void test_empty(void)
{
	struct wsk_hist h;

	wsk_hist_init(&h);
	ok(wsk_hist_count(&h) == 0 && wsk_hist_min(&h) == 0 &&
	       wsk_hist_max(&h) == 0 && wsk_hist_mean(&h) == 0 &&
	       wsk_hist_stddev(&h) == 0 && wsk_hist_percentile(&h, 50) == 0,
	   "an empty histogram reports zeros");
}

static void test_single(void)
{
	struct wsk_hist h;

	wsk_hist_init(&h);
	wsk_hist_record(&h, 142);
	ok(wsk_hist_count(&h) == 1 && wsk_hist_min(&h) == 142 &&
	       wsk_hist_max(&h) == 142,
	   "one value: count 1, min = max = the value");
	ok(wsk_hist_mean(&h) == 142 && wsk_hist_stddev(&h) == 0,
	   "one value: mean is the value, stddev 0");
	ok(wsk_hist_percentile(&h, 0) == 142 &&
	       wsk_hist_percentile(&h, 50) == 142 &&
	       wsk_hist_percentile(&h, 99.9) == 142 &&
	       wsk_hist_percentile(&h, 100) == 142,
	   "one value: every percentile is the value");

	wsk_hist_init(&h);
	wsk_hist_record(&h, 123456789);
	ok(wsk_hist_percentile(&h, 50) == 123456789,
	   "a large single value comes back exactly (clamped to min/max)");
	wsk_hist_record(&h, 0);
	ok(wsk_hist_min(&h) == 0 && wsk_hist_percentile(&h, 50) == 0,
	   "zero is a value like any other");
}

static void test_small_exact(void)
{
	struct wsk_hist h;
	uint64_t v;

	wsk_hist_init(&h);
	for (v = 1; v <= 100; v++)
		wsk_hist_record(&h, v);
	ok(wsk_hist_percentile(&h, 50) == 50, "1..100: p50 = 50");
	ok(wsk_hist_percentile(&h, 90) == 90, "1..100: p90 = 90");
	ok(wsk_hist_percentile(&h, 99) == 99, "1..100: p99 = 99");
	ok(wsk_hist_percentile(&h, 99.9) == 100, "1..100: p99.9 = 100");
	ok(wsk_hist_percentile(&h, 1) == 1 && wsk_hist_percentile(&h, 0) == 1,
	   "1..100: p0 = p1 = 1");
	ok(wsk_hist_percentile(&h, 50.5) == 51,
	   "1..100: p50.5 = 51 (at least 50.5%% at or below)");
	ok(wsk_hist_mean(&h) == 50.5, "1..100: mean 50.5");
	ok(rel(wsk_hist_stddev(&h), sqrt((100.0 * 100 - 1) / 12)) < 1e-12,
	   "1..100: population stddev sqrt((n^2-1)/12)");
}

static void test_uniform(void)
{
	static const double ps[] = {10, 25, 50, 75, 90, 99, 99.9, 99.99};
	struct wsk_hist h;
	uint64_t v, got, want;
	size_t i;

	wsk_hist_init(&h);
	for (v = 1; v <= 1000000; v++)
		wsk_hist_record(&h, v);
	for (i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		want = (uint64_t)llround(ps[i] * 10000);
		got = wsk_hist_percentile(&h, ps[i]);
		ok(got >= want && rel((double)got, (double)want) < 0.01,
		   "uniform 1..1e6: p%g = %llu, exact %llu, within 1%% and "
		   "not below",
		   ps[i], (unsigned long long)got, (unsigned long long)want);
	}
	ok(wsk_hist_min(&h) == 1 && wsk_hist_max(&h) == 1000000,
	   "uniform 1..1e6: min and max exact");
	ok(rel(wsk_hist_mean(&h), 500000.5) < 1e-12,
	   "uniform 1..1e6: mean exact");
	ok(rel(wsk_hist_stddev(&h), sqrt((1e12 - 1) / 12)) < 1e-9,
	   "uniform 1..1e6: stddev exact");
}

/* Exponential, mean 1 ms, plus a lognormal-ish tail: compares every
 * reported percentile with the sorted samples. */
static void test_random(const char *name, int kind)
{
	static const double ps[] = {50, 90, 99, 99.9};
	enum { N = 200000 };
	uint64_t *v = malloc(sizeof(*v) * N);
	struct wsk_hist h;
	double sum = 0, sq = 0, mean, sd, u;
	size_t i, worst = 0;
	double err, worst_err = 0;

	wsk_hist_init(&h);
	for (i = 0; i < N; i++) {
		u = uniform01();
		if (kind == 0)
			v[i] = (uint64_t)(-log(1 - u) * 1000.0);
		else
			v[i] = (uint64_t)(100 * exp(3 * u * u * u));
		wsk_hist_record(&h, v[i]);
		sum += (double)v[i];
	}
	mean = sum / N;
	for (i = 0; i < N; i++)
		sq += ((double)v[i] - mean) * ((double)v[i] - mean);
	sd = sqrt(sq / N);
	qsort(v, N, sizeof(*v), cmp_u64);
	for (i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		err = rel((double)wsk_hist_percentile(&h, ps[i]),
			  (double)exact_percentile(v, N, ps[i]));
		if (err > worst_err) {
			worst_err = err;
			worst = i;
		}
	}
	ok(worst_err < 0.01,
	   "%s: p50/p90/p99/p99.9 within 1%% of the exact ones (worst "
	   "p%g off by %.3f%%)",
	   name, ps[worst], worst_err * 100);
	ok(wsk_hist_min(&h) == v[0] && wsk_hist_max(&h) == v[N - 1],
	   "%s: min and max exact", name);
	ok(rel(wsk_hist_mean(&h), mean) < 1e-9 &&
	       rel(wsk_hist_stddev(&h), sd) < 1e-9,
	   "%s: mean and stddev match a two-pass computation", name);
	free(v);
}

static void test_bimodal(void)
{
	struct wsk_hist h;
	int i;

	wsk_hist_init(&h);
	for (i = 0; i < 990; i++)
		wsk_hist_record(&h, 100);
	for (i = 0; i < 10; i++)
		wsk_hist_record(&h, 1000000);
	ok(wsk_hist_percentile(&h, 50) == 100 &&
	       wsk_hist_percentile(&h, 99) == 100,
	   "990 x 100 + 10 x 1e6: p50 = p99 = 100");
	ok(wsk_hist_percentile(&h, 99.9) == 1000000,
	   "990 x 100 + 10 x 1e6: p99.9 = 1e6 (the outliers show)");
}

static void test_merge(void)
{
	struct wsk_hist *all = malloc(sizeof(*all));
	struct wsk_hist *a = malloc(sizeof(*a));
	struct wsk_hist *b = malloc(sizeof(*b));
	struct wsk_hist *e = malloc(sizeof(*e));
	uint64_t v;
	int i;

	wsk_hist_init(all);
	wsk_hist_init(a);
	wsk_hist_init(b);
	wsk_hist_init(e);
	for (i = 0; i < 50000; i++) {
		v = (uint64_t)(uniform01() * (i % 3 ? 2000 : 90000));
		wsk_hist_record(all, v);
		wsk_hist_record(i % 4 ? a : b, v);
	}
	wsk_hist_merge(a, b);
	ok(memcmp(a->bucket, all->bucket, sizeof(a->bucket)) == 0 &&
	       a->count == all->count && a->min == all->min &&
	       a->max == all->max,
	   "merging two halves gives the buckets, count, min and max of one");
	ok(rel(a->mean, all->mean) < 1e-12 &&
	       rel(wsk_hist_stddev(a), wsk_hist_stddev(all)) < 1e-9,
	   "merging two halves gives the same mean and stddev");
	wsk_hist_merge(e, a);
	ok(e->count == a->count && e->min == a->min && e->mean == a->mean,
	   "merging into an empty histogram copies it");
	wsk_hist_init(b);
	wsk_hist_merge(a, b);
	ok(a->count == all->count && a->min == all->min,
	   "merging an empty histogram changes nothing");
	free(all);
	free(a);
	free(b);
	free(e);
}

static void test_clamp(void)
{
	struct wsk_hist h;

	wsk_hist_init(&h);
	wsk_hist_record(&h, UINT64_MAX);
	ok(wsk_hist_max(&h) == WSK_HIST_MAX &&
	       wsk_hist_percentile(&h, 100) == WSK_HIST_MAX,
	   "values past WSK_HIST_MAX count as WSK_HIST_MAX");
	wsk_hist_init(&h);
	wsk_hist_record(&h, 3600000000u);
	wsk_hist_record(&h, 3600000000u + 1000);
	ok(rel((double)wsk_hist_percentile(&h, 50), 3600000000.0) < 0.01,
	   "an hour in microseconds keeps 1%% precision");
}

int main(void)
{
	test_buckets();
	test_empty();
	test_single();
	test_small_exact();
	test_uniform();
	test_random("exponential", 0);
	test_random("long tail", 1);
	test_bimodal();
	test_merge();
	test_clamp();
	return done();
}
