/**
 * The local embedder: deterministic feature hashing, no model to download. Each word and word pair
 * is hashed (FNV-1a) to a dimension and a sign; counts are log-damped and the vector L2-normalised,
 * so cosine similarity reflects shared vocabulary. Weak semantics, stable and fast; the same
 * dimensions as the configured OpenAI model, so the schema does not change with the provider.
 */
export function hashEmbedding(text: string, dimensions: number): number[] {
  const vector = new Float64Array(dimensions);
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const add = (feature: string) => {
    const hash = fnv1a(feature);
    const index = hash % dimensions;
    vector[index]! += hash & 0x80000000 ? -1 : 1;
  };
  words.forEach((word, i) => {
    add(word);
    if (i > 0) add(`${words[i - 1]} ${word}`);
  });
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    const v = vector[i]!;
    vector[i] = Math.sign(v) * Math.log1p(Math.abs(v));
    norm += vector[i]! * vector[i]!;
  }
  norm = Math.sqrt(norm);
  return Array.from(vector, (v) => (norm === 0 ? 0 : v / norm));
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
