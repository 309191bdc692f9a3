import { ConfigError } from './errors.js';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

/**
 * The engine's schema name, validated once and quoted once. Lower-case identifiers only, because
 * the name is also the prefix of NOTIFY channels, which PGlite does not quote.
 */
export class SchemaName {
  readonly name: string;
  readonly quoted: string;

  constructor(name: string) {
    if (!SCHEMA_NAME.test(name)) {
      throw new ConfigError(`schema must match ${SCHEMA_NAME} (lower-case letters, digits, _); got "${name}"`);
    }
    this.name = name;
    this.quoted = `"${name}"`;
  }

  /** Qualifies a table or function name: `"docket".instances`. */
  table(name: string): string {
    return `${this.quoted}.${name}`;
  }

  /** The NOTIFY channel for `topic` (wake, effects, steps, cancel), as the triggers and operator controls name it. */
  channel(topic: 'wake' | 'effects' | 'steps' | 'cancel'): string {
    return `${this.name}_${topic}`;
  }
}
