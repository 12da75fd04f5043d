/** The Linux-guest half of the addon (native/linux/), with a clear error where it is missing. */
import { constants } from 'node:os';
import { native, type NativeLinux } from '../backends/native.js';
import { EnvironmentError } from '../errors.js';

export function linuxAddon(): NativeLinux {
  const api = native().linux;
  if (api === undefined) {
    throw new EnvironmentError(`vss-bridge: Linux guest support needs Linux; this is ${process.platform}`);
  }
  return api;
}

/** "EBUSY (errno 16)" for an errno from the addon. */
export function errnoName(errno: number): string {
  const entry = Object.entries(constants.errno as Record<string, number>).find(([, n]) => n === errno);
  return `${entry?.[0] ?? 'errno'} ${errno}`;
}
