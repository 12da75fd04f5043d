/**
 * The consistent-snapshot demo (src/demo/index.ts), loaded on first use so every other command
 * starts without it: it needs the optional better-sqlite3 and says so when it is absent.
 */
export function loadDemo(): Promise<typeof import('../demo/index.js')> {
  return import('../demo/index.js');
}
