import winston from 'winston';

/**
 * The default logger writes to the console (stderr) only: a log file on a volume being
 * snapshotted would block the app while that volume is frozen. Pass your own winston logger
 * to replace it; log level from VSS_BRIDGE_LOG_LEVEL (default info).
 */
let defaultLogger: winston.Logger | undefined;

export function getDefaultLogger(): winston.Logger {
  defaultLogger ??= winston.createLogger({
    level: process.env['VSS_BRIDGE_LOG_LEVEL'] ?? 'info',
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

export type Logger = winston.Logger;
