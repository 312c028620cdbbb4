// Reconnect delays: exponential backoff with "full jitter".
// The ceiling grows base * factor^attempt up to cap; the delay is drawn
// uniformly from [0, ceiling), so many clients cut off at once do not all
// come back in the same instant.

export const DEFAULT_BACKOFF = Object.freeze({ base: 500, factor: 2, cap: 30000 });

// backoffCeiling(attempt) is the largest delay (ms) for the attempt'th retry,
// counting from 0.
export function backoffCeiling(attempt, opts = DEFAULT_BACKOFF) {
  const { base, factor, cap } = { ...DEFAULT_BACKOFF, ...opts };
  const n = Math.max(0, Math.floor(attempt));
  // Stop multiplying once past the cap so large attempts never overflow.
  let c = base;
  for (let i = 0; i < n && c < cap; i++) c *= factor;
  return Math.min(cap, c);
}

// backoffDelay(attempt) is a random delay in ms in [0, backoffCeiling(attempt)).
export function backoffDelay(attempt, opts = DEFAULT_BACKOFF, random = Math.random) {
  return Math.floor(random() * backoffCeiling(attempt, opts));
}
