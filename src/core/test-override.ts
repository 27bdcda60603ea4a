/**
 * A limit that a test may lower through an environment variable (a million-row list or a
 * province is too slow for a test): the variable's value when it is an integer from `min` up to
 * below `limit`, else `limit`. It can never raise a limit.
 */
export function loweredForTests(envName: string, limit: number, min = 1): number {
  const env = Number(process.env[envName]);
  return Number.isInteger(env) && env >= min && env < limit ? env : limit;
}
