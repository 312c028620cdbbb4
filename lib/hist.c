#include "hist.h"

#include <math.h>
#include <string.h>

void wsk_hist_init(struct wsk_hist *h)
{
	memset(h, 0, sizeof(*h));
}

/* Values below 2^(SUB_BITS+1) have a bucket each. Above, a value whose
 * highest set bit is k keeps its top SUB_BITS+1 bits, v >> (k - SUB_BITS),
 * a number in [128, 256); each power of two adds 128 buckets, so the
 * index is (shift << SUB_BITS) + (v >> shift) and runs on without gaps. */
unsigned wsk_hist_index(uint64_t value)
{
	unsigned shift = 0;
	int msb;

	if (value > WSK_HIST_MAX)
		value = WSK_HIST_MAX;
	if (value >> (WSK_HIST_SUB_BITS + 1) != 0) {
		msb = 63 - __builtin_clzll(value);
		shift = (unsigned)msb - WSK_HIST_SUB_BITS;
	}
	return (shift << WSK_HIST_SUB_BITS) + (unsigned)(value >> shift);
}

uint64_t wsk_hist_lowest(unsigned index)
{
	unsigned shift;

	if (index < (2u << WSK_HIST_SUB_BITS))
		return index;
	shift = (index >> WSK_HIST_SUB_BITS) - 1;
	return (uint64_t)(index - (shift << WSK_HIST_SUB_BITS)) << shift;
}

uint64_t wsk_hist_highest(unsigned index)
{
	unsigned shift;

	if (index < (2u << WSK_HIST_SUB_BITS))
		return index;
	shift = (index >> WSK_HIST_SUB_BITS) - 1;
	return wsk_hist_lowest(index) + (UINT64_C(1) << shift) - 1;
}

void wsk_hist_record(struct wsk_hist *h, uint64_t value)
{
	double delta;

	if (value > WSK_HIST_MAX)
		value = WSK_HIST_MAX;
	h->bucket[wsk_hist_index(value)]++;
	if (h->count == 0 || value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
	/* Welford's update: no sum of squares to overflow or cancel. */
	h->count++;
	delta = (double)value - h->mean;
	h->mean += delta / (double)h->count;
	h->m2 += delta * ((double)value - h->mean);
}

void wsk_hist_merge(struct wsk_hist *dst, const struct wsk_hist *src)
{
	double n, delta;
	unsigned i;

	if (src->count == 0)
		return;
	if (dst->count == 0) {
		*dst = *src;
		return;
	}
	for (i = 0; i < WSK_HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	/* Chan et al.'s pairwise combination of mean and m2. */
	n = (double)dst->count + (double)src->count;
	delta = src->mean - dst->mean;
	dst->mean += delta * (double)src->count / n;
	dst->m2 += src->m2 +
		   delta * delta * (double)dst->count * (double)src->count / n;
	dst->count += src->count;
}

uint64_t wsk_hist_count(const struct wsk_hist *h)
{
	return h->count;
}

uint64_t wsk_hist_min(const struct wsk_hist *h)
{
	return h->count ? h->min : 0;
}

uint64_t wsk_hist_max(const struct wsk_hist *h)
{
	return h->count ? h->max : 0;
}

double wsk_hist_mean(const struct wsk_hist *h)
{
	return h->count ? h->mean : 0.0;
}

double wsk_hist_stddev(const struct wsk_hist *h)
{
	if (h->count == 0 || h->m2 <= 0.0)
		return 0.0;
	return sqrt(h->m2 / (double)h->count);
}

uint64_t wsk_hist_percentile(const struct wsk_hist *h, double p)
{
	uint64_t want, seen = 0, v;
	double rank;
	unsigned i;

	if (h->count == 0)
		return 0;
	if (p <= 0.0)
		return h->min;
	if (p >= 100.0)
		return h->max;
	/* The rank of the wanted value, 1-based; the small slack keeps
	 * 99.9% of 1000 at 999 although 0.999 * 1000 is not exact. */
	rank = ceil(p / 100.0 * (double)h->count - 1e-9);
	want = rank < 1.0 ? 1 : (uint64_t)rank;
	for (i = 0; i < WSK_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= want)
			break;
	}
	if (i == WSK_HIST_BUCKETS)
		return h->max;
	v = wsk_hist_highest(i);
	if (v > h->max)
		v = h->max;
	if (v < h->min)
		v = h->min;
	return v;
}
