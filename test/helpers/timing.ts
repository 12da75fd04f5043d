/**
 * The one knob for the few deadlines tests must keep (the short handler timeouts of the fault
 * matrix and the soak, which must expire on purpose yet never by accident): the environment
 * variable VSS_BRIDGE_TEST_TIME_SCALE multiplies them. 1 by default; say 3 on a machine busy
 * with other work. Everything else waits on signals or polls, with no deadline of its own.
 */
export const timeScaleVariable = 'VSS_BRIDGE_TEST_TIME_SCALE';

function readScale(): number {
  const text = process.env[timeScaleVariable];
  if (text === undefined || text === '') return 1;
  const scale = Number(text);
  if (!Number.isFinite(scale) || scale < 1 || scale > 100) throw new Error(`${timeScaleVariable} must be a number from 1 to 100 (it is "${text}")`);
  return scale;
}

export const timeScale = readScale();

/** `ms`, multiplied by VSS_BRIDGE_TEST_TIME_SCALE. */
export const scaled = (ms: number): number => Math.round(ms * timeScale);

/** For vi.waitFor: poll every 10 ms for as long as a wait on a busy machine may take. */
export const polling = { timeout: scaled(10_000), interval: 10 } as const;
