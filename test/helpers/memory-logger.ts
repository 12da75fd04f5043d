import { Writable } from 'node:stream';
import winston from 'winston';

export interface LogEntry {
  level: string;
  message: string;
  [key: string]: unknown;
}

/** A winston logger that keeps what it logs, for asserting on it. */
export function memoryLogger(): { logger: winston.Logger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      entries.push(JSON.parse(chunk.toString()) as LogEntry);
      done();
    },
  });
  const logger = winston.createLogger({
    level: 'debug',
    format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream })],
  });
  return { logger, entries };
}
