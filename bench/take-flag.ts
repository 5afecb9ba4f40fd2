// A flag's value taken out of a bench's argument list, so that what is left passes on to the
// command the bench runs (bench/aha.ts, bench/beyond.ts).

/** Removes `flag VALUE` from args and returns VALUE; undefined when the flag is absent. */
export function takeFlag(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${flag}: expected a value`);
  args.splice(i, 2);
  return v;
}
