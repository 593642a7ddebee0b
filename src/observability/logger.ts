import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = LevelWithSilent;

/**
 * Paths censored in every log line. Principals, webhook headers and dataflow configs travel
 * through log context, and a leaked bearer key is a full compromise, so err on redacting.
 */
export const REDACT_PATHS: readonly string[] = [
  'key',
  'apiKey',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'secret',
  'password',
  'token',
  '*.apiKey',
  '*.secret',
  '*.password',
  '*.token',
];

export interface LoggerOptions {
  level?: string;
  name?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to read lines back. */
  destination?: DestinationStream;
}

function isLogLevel(value: string | undefined): value is LogLevel {
  return value !== undefined && (LOG_LEVELS as readonly string[]).includes(value);
}

/**
 * The env is read here and not through loadConfig so that modules can log at import time,
 * before (or without) a validated config; loadConfig still rejects a bad LOG_LEVEL at start.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const requested = opts.level ?? process.env.LOG_LEVEL;
  const level: LogLevel = isLogLevel(requested) ? requested : 'info';
  const options = {
    level,
    ...(opts.name !== undefined ? { name: opts.name } : {}),
    redact: { paths: [...REDACT_PATHS], censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  const logger = opts.destination ? pino(options, opts.destination) : pino(options);
  if (requested !== undefined && requested !== '' && !isLogLevel(requested)) {
    logger.warn({ requested, allowed: LOG_LEVELS }, 'unknown log level, using info');
  }
  return logger;
}

export const logger: Logger = createLogger({ name: 'stageflow' });
