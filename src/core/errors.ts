// Error types of r1ts. Every error names the thing that was wrong and what was
// expected; callers catch R1tsError to tell user mistakes from bugs.
// Not here: formatting for the CLI (src/cli does that).

/** Base class of every error r1ts throws on purpose. */
export class R1tsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A shape or dtype that does not fit the op: names the op and the shapes. */
export class ShapeError extends R1tsError {}

/** Misuse of autograd (backward on a non-scalar, through a freed graph, ...). */
export class AutogradError extends R1tsError {}

/** A kernel produced NaN/Inf while the check mode (R1TS_CHECK_NAN=1) is on. */
export class NonFiniteError extends R1tsError {}

/** Bad configuration or environment value. */
export class ConfigError extends R1tsError {}

/** Formats a shape as [2, 3, 4] for error messages. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
