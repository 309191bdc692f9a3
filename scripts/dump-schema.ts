/** Writes test/schema.sql and test/schema-upload-pipeline.sql: the schemas as migrations leave them, for the schema tests. */
import { writeFileSync } from 'node:fs';
import pino from 'pino';
import { vector } from '@electric-sql/pglite-pgvector';
import { PgliteDatabase } from '../runtime/db/pglite.js';
import { migrate } from '../runtime/migrate.js';
import { MIGRATIONS as ENGINE_MIGRATIONS } from '../runtime/sql/migrations.js';
import { SchemaName } from '../runtime/schema.js';
import { describeSchema } from './describe-schema.js';
import { PIPELINE_MIGRATIONS } from '../pipeline/index.js';
import { PIPELINE_SCHEMA } from '../pipeline/store.js';

const logger = pino({ name: 'schema-dump' });
const db = await PgliteDatabase.open(undefined, { extensions: { vector } });
const schema = new SchemaName('docket');
await migrate(db, schema, ENGINE_MIGRATIONS);
const text = await describeSchema(db, schema.name);
writeFileSync(new URL('../test/schema.sql', import.meta.url), text);
logger.info({ lines: text.split('\n').length - 1 }, 'wrote test/schema.sql');
const pipeline = new SchemaName(PIPELINE_SCHEMA);
await migrate(db, pipeline, PIPELINE_MIGRATIONS, 'upload_pipeline');
const pipelineText = await describeSchema(db, pipeline.name);
writeFileSync(new URL('../test/schema-upload-pipeline.sql', import.meta.url), pipelineText);
logger.info({ lines: pipelineText.split('\n').length - 1 }, 'wrote test/schema-upload-pipeline.sql');
await db.close();
