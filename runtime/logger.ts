import pino, { type Logger } from 'pino';

/** The logger a runtime uses when given none: JSON lines at info on stdout. */
export function defaultLogger(): Logger {
  return pino({ name: 'docket', level: 'info' });
}
