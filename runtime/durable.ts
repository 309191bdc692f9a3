import { fromPromise, type PromiseActorLogic } from 'xstate';
import type { EffectContext } from './types.js';

/**
 * Declares a service for a machine's `setup({ actors })` whose body also receives the effect context
 * (idempotency key, attempt number, abort signal). Under the durable runtime it runs as an effect;
 * under a plain XState actor it runs as a promise, with `attempt` 1 and an empty key.
 */
export function durable<TOutput, TInput = unknown>(
  fn: (context: EffectContext<TInput>) => Promise<TOutput>,
): PromiseActorLogic<TOutput, TInput> {
  return fromPromise<TOutput, TInput>(({ input, signal, ...rest }) => {
    const given = rest as Partial<EffectContext<TInput>>;
    return fn({
      input,
      signal,
      idempotencyKey: given.idempotencyKey ?? '',
      attempt: given.attempt ?? 1,
      instanceId: given.instanceId ?? '',
      childId: given.childId ?? '',
      logger: given.logger ?? silentLogger,
    });
  });
}

const noop = () => {};
const silentLogger = new Proxy({}, { get: (_target, key) => (key === 'child' ? () => silentLogger : noop) }) as EffectContext['logger'];
