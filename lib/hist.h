/* A latency histogram with bounded memory and about 1% precision.
 *
 * Values are unsigned integers, by convention microseconds. They are
 * counted in log-linear buckets, as HdrHistogram does: values below 256
 * each have their own bucket, and every power-of-two range above that,
 * [2^k, 2^(k+1)), is cut into 128 equal sub-buckets. A bucket is therefore
 * never wider than 1/128 of the values it holds, so a percentile read from
 * the histogram is within 0.8% of the true one. The histogram covers 0 to
 * WSK_HIST_MAX (about 12.7 days in microseconds) in WSK_HIST_BUCKETS
 * counters; larger values are counted as WSK_HIST_MAX.
 *
 * Count, minimum, maximum, mean and standard deviation are exact (kept
 * alongside the buckets); only percentiles are approximate.
 *
 * A histogram is plain memory with no pointers: embed it, copy it, give one
 * to each thread and merge them at the end. Nothing here locks. */
#ifndef WSK_HIST_H
#define WSK_HIST_H

#include <stdint.h>

/* Sub-buckets per power of two, as a power of two: 2^7 = 128. */
#define WSK_HIST_SUB_BITS 7
/* Values up to 2^WSK_HIST_MAX_BITS - 1 are told apart. */
#define WSK_HIST_MAX_BITS 40
#define WSK_HIST_MAX ((UINT64_C(1) << WSK_HIST_MAX_BITS) - 1)
#define WSK_HIST_BUCKETS                                                       \
	((WSK_HIST_MAX_BITS - WSK_HIST_SUB_BITS + 1) << WSK_HIST_SUB_BITS)

struct wsk_hist {
	uint64_t count;
	uint64_t min, max; /* of the values recorded, after clamping */
	double mean, m2;   /* running mean and sum of squared deviations */
	uint64_t bucket[WSK_HIST_BUCKETS];
};

/* Empties h. */
void wsk_hist_init(struct wsk_hist *h);

/* Counts one value; values above WSK_HIST_MAX count as WSK_HIST_MAX. */
void wsk_hist_record(struct wsk_hist *h, uint64_t value);

/* Adds every value counted in src to dst; src is unchanged. */
void wsk_hist_merge(struct wsk_hist *dst, const struct wsk_hist *src);

/* The number of values counted. */
uint64_t wsk_hist_count(const struct wsk_hist *h);

/* The smallest and the largest value counted; 0 when h is empty. */
uint64_t wsk_hist_min(const struct wsk_hist *h);
uint64_t wsk_hist_max(const struct wsk_hist *h);

/* The arithmetic mean, and the population standard deviation (what ping
 * calls mdev); 0 when h is empty. */
double wsk_hist_mean(const struct wsk_hist *h);
double wsk_hist_stddev(const struct wsk_hist *h);

/* The value at percentile p (0 to 100): the smallest v such that at least
 * p% of the values are <= v, up to the width of v's bucket. The answer is
 * the highest value of that bucket, kept within [min, max], so percentile
 * 0 is the minimum and percentile 100 the maximum. 0 when h is empty. */
uint64_t wsk_hist_percentile(const struct wsk_hist *h, double p);

/* Bucket arithmetic, exposed for the unit tests: the bucket that counts
 * value, and the lowest and highest value a bucket counts. */
unsigned wsk_hist_index(uint64_t value);
uint64_t wsk_hist_lowest(unsigned index);
uint64_t wsk_hist_highest(unsigned index);

#endif
