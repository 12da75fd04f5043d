import winston from 'winston';

/**
 * What the library logs through: any object with the four usual level methods. `console`,
 * winston, pino and bunyan loggers all fit. Each call passes a message, then at most one
 * object of fields (winston and console show them; pino and bunyan print them after the
 * message or drop them, so every message says what matters in its text).
 */
export interface Logger {
  error(message: string, fields?: LogFields): unknown;
  warn(message: string, fields?: LogFields): unknown;
  info(message: string, fields?: LogFields): unknown;
  debug(message: string, fields?: LogFields): unknown;
  /** winston and pino have it: the library then builds no message a level would drop. */
  isLevelEnabled?(level: string): boolean;
}

/** Fields passed with a message. */
export type LogFields = Record<string, unknown>;

/** Whether `level` gets through; a logger that cannot tell is always called. */
export function isEnabled(logger: Logger, level: string): boolean {
  return logger.isLevelEnabled?.(level) ?? true;
}

export const defaultLogLevel = 'warn';

/**
 * The default logger writes to the console (stderr) only: a log file on a volume being
 * snapshotted would block the app while that volume is frozen. Its level comes from
 * VSS_BRIDGE_LOG_LEVEL (default warn: what needs someone's attention, and nothing a caller
 * already learns from a rejected promise).
 */
let defaultLogger: winston.Logger | undefined;

export function getDefaultLogger(): Logger {
  defaultLogger ??= winston.createLogger({
    level: process.env['VSS_BRIDGE_LOG_LEVEL'] || defaultLogLevel,
    format: winston.format.combine(
      winston.format.timestamp(),
      winston.format.printf(({ timestamp, level, message, ...meta }) => {
        const fields = Object.entries(meta)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' ');
        return `${String(timestamp)} vss-bridge ${level}: ${String(message)}${fields ? ` ${fields}` : ''}`;
      }),
    ),
    transports: [new winston.transports.Console({ stderrLevels: Object.keys(winston.config.npm.levels) })],
  });
  return defaultLogger;
}

/** A logger that drops everything (the CLI's when not --verbose, the demo's when quiet). */
export const silentLogger: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  isLevelEnabled: () => false,
};
