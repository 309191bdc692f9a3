/** Writes test/schema.sql: the engine schema as migrations leave it, for the schema test to compare. */
import { writeFileSync } from 'node:fs';
import pino from 'pino';
import { PgliteDatabase } from '../runtime/db/pglite.js';
import { ENGINE_MIGRATIONS, loadMigrations, migrate } from '../runtime/migrate.js';
import { SchemaName } from '../runtime/schema.js';
import { describeSchema } from './describe-schema.js';

const logger = pino({ name: 'schema-dump' });
const db = await PgliteDatabase.open();
const schema = new SchemaName('docket');
await migrate(db, schema, loadMigrations(ENGINE_MIGRATIONS));
const text = await describeSchema(db, schema.name);
writeFileSync(new URL('../test/schema.sql', import.meta.url), text);
await db.close();
logger.info({ lines: text.split('\n').length - 1 }, 'wrote test/schema.sql');
