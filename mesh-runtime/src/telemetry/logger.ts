import { type Logger, pino } from "pino";

/** The default logger of a mesh: JSON lines on stdout, bound to the service name. */
export function createLogger(service: string, level: string): Logger {
  return pino({ level, base: { service, pid: process.pid } });
}
