// Length reward: DAPO's soft overlong punishment (Yu et al. 2025, eq. 13).
//   R(|y|) = 0                              if |y| <= L_max - L_cache
//          = ((L_max - L_cache) - |y|) / L_cache   if L_max - L_cache < |y| <= L_max
//          = -1                             if |y| > L_max
// |y| is the completion length in whatever unit the caller counts (tokens in training).
// It is added to the task reward; it never rewards, only punishes.
// Not here: truncation itself (the generation engine stops at L_max), length-normalised losses.

export interface OverlongConfig {
  /** Maximum generation length L_max (> 0). */
  readonly maxLength: number;
  /** Length of the soft punishment window L_cache (0 < L_cache <= L_max). */
  readonly cacheLength: number;
}

/** Throws a RangeError naming the field when the config is not usable. */
export function validateOverlongConfig(c: OverlongConfig): OverlongConfig {
  if (!Number.isFinite(c.maxLength) || c.maxLength <= 0) throw new RangeError(`overlong maxLength=${c.maxLength}: expected a number > 0`);
  if (!Number.isFinite(c.cacheLength) || c.cacheLength <= 0 || c.cacheLength > c.maxLength) {
    throw new RangeError(`overlong cacheLength=${c.cacheLength}: expected 0 < cacheLength <= maxLength (${c.maxLength})`);
  }
  return c;
}

/** DAPO soft overlong punishment for a completion of `length` units: 0, linear to -1, then -1. */
export function overlongPenalty(length: number, config: OverlongConfig): number {
  const { maxLength, cacheLength } = validateOverlongConfig(config);
  if (!Number.isFinite(length) || length < 0) throw new RangeError(`length=${length}: expected a number >= 0`);
  const free = maxLength - cacheLength;
  if (length <= free) return 0;
  if (length > maxLength) return -1;
  return (free - length) / cacheLength;
}
