/**
 * LND's version string, read once: "major.minor.patch[-pre]" as LND's build/version.go writes it
 * ('0.21.2-beta', '0.21.1-beta.rc1'). Used by the version check (checks.ts) and by the simulator,
 * which reports a version in the same form.
 */

/** A `major.minor.patch` release. */
export interface Release {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

/** A release and its pre-release tag: 'beta' for LND releases, 'beta.rc1' for a candidate, '' if none. */
export interface LndVersion extends Release {
  readonly preRelease: string;
}

const VERSION = /^(\d+)\.(\d+)\.(\d+)(?:-(.+))?$/;

/**
 * Splits "major.minor.patch[-pre]"; undefined for anything else. Non-throwing: each caller names
 * its own setting in the error it raises.
 */
export function parseLndVersion(value: string): LndVersion | undefined {
  const m = VERSION.exec(value);
  if (m === null) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), preRelease: m[4] ?? '' };
}
