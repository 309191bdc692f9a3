import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** Renders a Vega-Lite spec to SVG without a browser or canvas (text is measured by estimate). */
export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  const compiled = compile({ $schema: 'https://vega.github.io/schema/vega-lite/v5.json', background: 'white', ...spec } as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Lines with points: one series per `series` value, y over x. */
export function lineSpec(options: { values: object[]; x: string; y: string; series: string; xTitle: string; yTitle: string; logY?: boolean }): Record<string, unknown> {
  return {
    width: 520,
    height: 280,
    data: { values: options.values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: options.x, type: 'quantitative', title: options.xTitle },
      y: { field: options.y, type: 'quantitative', title: options.yTitle, ...(options.logY ? { scale: { type: 'log' } } : {}) },
      color: { field: options.series, type: 'nominal', title: null },
    },
  };
}

/**
 * Empirical distribution of samples per series: x is the latency, y the share of samples at or
 * below it, so the p50 and p99 are where each line crosses 0.5 and 0.99.
 */
export function cdfSpec(options: { samples: Record<string, number[]>; xTitle: string; logX?: boolean }): Record<string, unknown> {
  const values: { series: string; x: number; share: number }[] = [];
  for (const [series, samples] of Object.entries(options.samples)) {
    const sorted = [...samples].sort((a, b) => a - b);
    // At most ~200 points a line: every sample of a large run would make a multi-megabyte SVG.
    const stride = Math.max(1, Math.floor(sorted.length / 200));
    for (let i = 0; i < sorted.length; i += stride) values.push({ series, x: Math.max(sorted[i]!, 0.01), share: (i + 1) / sorted.length });
    if (sorted.length > 0) values.push({ series, x: Math.max(sorted.at(-1)!, 0.01), share: 1 });
  }
  return {
    width: 520,
    height: 280,
    data: { values },
    mark: { type: 'line', interpolate: 'step-after' },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: options.xTitle, ...(options.logX ? { scale: { type: 'log' } } : {}) },
      y: { field: 'share', type: 'quantitative', title: 'share of samples ≤ x', scale: { domain: [0, 1] } },
      color: { field: 'series', type: 'nominal', title: null },
    },
  };
}
