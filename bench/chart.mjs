// The benchmark's chart: a plain SVG string (no dependencies, no browser), written next to the
// JSON report. Horizontal bars, log scale: per shape, how many times faster nn-embedding's native
// backend (1 thread) is than each alternative (TypeScript backend, tfjs, naive JS loop). A bar
// left of the 1× line means the alternative was faster. Alternatives not run (tfjs's gradient over
// large tables) are stated in words with the estimate, never drawn.

const SERIES = [
  { key: 'ts', name: 'TypeScript backend', color: '#4e79a7' },
  { key: 'tfjs', name: 'tfjs (cpu)', color: '#f28e2b' },
  { key: 'tfjsScatter', name: 'tfjs scatterND* (bwd)', color: '#f6c08e' },
  { key: 'naive', name: 'naive JS loop', color: '#59a14f' },
];

const fmtRatio = (x) =>
  x >= 99_950 ? `${x.toExponential(1).replace('e+', 'e')}×` : x >= 99.95 ? `${Math.round(x)}×` : x >= 9.995 ? `${x.toFixed(1)}×` : `${x.toFixed(2)}×`;
/** A power of ten as a tick label: 0.1×, 1×, 10×, ..., 1e4×. */
const fmtTick = (v) => {
  const e = Math.round(Math.log10(v));
  return e >= 4 ? `1e${e}×` : e >= 0 ? `${10 ** e}×` : `${(10 ** e).toFixed(-e)}×`;
};

function fmtSeconds(seconds) {
  const two = (x) => (x >= 10 ? String(Math.round(x)) : x.toFixed(1));
  if (seconds >= 2 * 86400) return `${two(seconds / 86400)} d`;
  if (seconds >= 2 * 3600) return `${two(seconds / 3600)} h`;
  if (seconds >= 120) return `${two(seconds / 60)} min`;
  return `${two(seconds)} s`;
}

/** A bar, or a note when the alternative was not run. */
function bar(key, value, notRun) {
  if (notRun) return { key, note: `not run: ~${fmtSeconds(notRun.estimatedSeconds)} per call estimated` };
  return Number.isFinite(value) && value > 0 ? { key, value } : null;
}

/** The chart's groups (sections of labelled bar groups) from the JSON report. */
export function chartGroups(report) {
  const sections = [];
  const embedding = report.results ?? [];
  for (const [op, title] of [
    ['fwd', 'Embedding forward'],
    ['bwd', 'Embedding dense backward'],
  ]) {
    const rows = embedding.filter((r) => r.op === op);
    if (rows.length === 0) continue;
    sections.push({
      title,
      groups: rows.map((r) => ({
        label: `${r.shape} ${r.rows}×${r.dim}, B ${r.batch}`,
        bars: [
          bar('ts', r.speedup.ts),
          bar('tfjs', r.speedup.tfjs, r.tfjs && !r.tfjs.measured ? r.tfjs : null),
          op === 'bwd' ? bar('tfjsScatter', r.speedup.tfjsScatter) : null,
          bar('naive', r.speedup.naive),
        ].filter(Boolean),
      })),
    });
  }
  const bag = report.bag?.results ?? [];
  for (const [op, title] of [
    ['fwd', 'EmbeddingBag sum forward'],
    ['bwd', 'EmbeddingBag sum dense backward'],
  ]) {
    const rows = bag.filter((r) => r.op === op && r.mode === 'sum');
    if (rows.length === 0) continue;
    sections.push({
      title,
      groups: rows.map((r) => ({
        label: `${r.shape} (E ${Math.round(r.meanEntries)})`,
        bars: [bar('ts', r.speedup.ts), bar('tfjs', r.speedup.tfjs, r.tfjs && !r.tfjs.measured ? r.tfjs : null), bar('naive', r.speedup.naive)].filter(Boolean),
      })),
    });
  }
  const train = report.train?.results ?? [];
  if (train.length > 0) {
    const tableRows = report.train.settings.tableRows;
    sections.push({
      title: 'Training step (B 16384, D 64)',
      groups: train.flatMap((r) =>
        tableRows.map((rows) => ({
          label: `${r.kind} N 10^${Math.round(Math.log10(rows))}`,
          bars: [
            bar('ts', r.speedupVsTs[rows]),
            r.optimizer === 'SGD' && !r.fused && r.tfjs ? bar('tfjs', NaN, r.tfjs[rows]) : null,
            bar('naive', r.speedupVsNaive?.[rows]),
          ].filter(Boolean),
        })),
      ),
    });
  }
  return sections;
}

const escape = (text) => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The SVG text of the chart. */
export function speedupChart(sections, report) {
  const width = 960;
  const left = 250;
  const right = width - 70;
  const barHeight = 11;
  const barGap = 2;
  const groupGap = 9;
  const sectionGap = 30;
  const top = 104;

  const values = sections.flatMap((s) => s.groups.flatMap((g) => g.bars.filter((b) => b.value).map((b) => b.value)));
  const lo = 10 ** Math.floor(Math.log10(Math.min(0.5, ...values)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(10, ...values)));
  const x = (v) => left + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (right - left);

  const body = [];
  let y = top;
  for (const section of sections) {
    y += 18;
    body.push(`<text x="12" y="${y}" class="section">${escape(section.title)}</text>`);
    y += 8;
    for (const group of section.groups) {
      const height = group.bars.length * (barHeight + barGap) - barGap;
      body.push(`<text x="${left - 8}" y="${y + height / 2 + 4}" class="label" text-anchor="end">${escape(group.label)}</text>`);
      for (const b of group.bars) {
        const series = SERIES.find((s) => s.key === b.key);
        if (b.value) {
          const x0 = x(Math.min(1, b.value));
          const x1 = x(Math.max(1, b.value));
          body.push(`<rect x="${x0.toFixed(1)}" y="${y}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${barHeight}" fill="${series.color}"/>`);
          const tx = b.value >= 1 ? x1 + 4 : x0 - 4;
          body.push(
            `<text x="${tx.toFixed(1)}" y="${y + barHeight - 2}" class="value"${b.value >= 1 ? '' : ' text-anchor="end"'}>${fmtRatio(b.value)}</text>`,
          );
        } else {
          body.push(`<rect x="${x(1).toFixed(1)}" y="${y + 2}" width="8" height="${barHeight - 4}" fill="none" stroke="${series.color}"/>`);
          body.push(`<text x="${(x(1) + 13).toFixed(1)}" y="${y + barHeight - 2}" class="note">${escape(`${series.name}: ${b.note}`)}</text>`);
        }
        y += barHeight + barGap;
      }
      y += groupGap;
    }
    y += sectionGap - groupGap;
  }
  const bottom = y;
  const height = bottom + 40;

  // Grid: powers of ten, the 1× line stronger.
  const grid = [];
  for (let v = lo; v <= hi * 1.0001; v *= 10) {
    const gx = x(v).toFixed(1);
    grid.push(`<line x1="${gx}" y1="${top}" x2="${gx}" y2="${bottom}" class="${Math.abs(v - 1) < 1e-9 ? 'one' : 'grid'}"/>`);
    grid.push(`<text x="${gx}" y="${bottom + 16}" class="tick" text-anchor="middle">${fmtTick(v)}</text>`);
    grid.push(`<text x="${gx}" y="${top - 6}" class="tick" text-anchor="middle">${fmtTick(v)}</text>`);
  }

  const m = report.machine ?? {};
  const threads = report.threads?.available ? `native thread pool: ${report.threads.all} threads by default` : 'no native thread pool in this build';
  const subtitle = `${m.cpuModel ?? ''}, ${m.logicalCpus ?? '?'} logical CPUs, ${m.platform ?? ''} ${m.arch ?? ''}, Node ${m.node ?? ''}, native tier ${report.nativeTier ?? ''}; ${threads}`;
  const run = `${(m.date ?? '').slice(0, 10)}, npm run bench${report.args?.quick ? ' -- --quick' : ''}; median µs per call of each, same run, same inputs; speed-up = alternative µs / native µs`;
  const legend = SERIES.map((s, i) => {
    const lx = 12 + i * 200;
    return `<rect x="${lx}" y="70" width="12" height="12" fill="${s.color}"/><text x="${lx + 18}" y="80" class="label">${escape(s.name)}</text>`;
  }).join('');

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    '<style>',
    '.title{font-size:16px;font-weight:bold;fill:#222}.sub{font-size:11px;fill:#555}.section{font-size:13px;font-weight:bold;fill:#222}',
    '.label{font-size:11px;fill:#333}.value{font-size:10px;fill:#222}.note{font-size:10px;fill:#777;font-style:italic}.tick{font-size:10px;fill:#666}',
    '.grid{stroke:#ddd;stroke-width:1}.one{stroke:#333;stroke-width:1.2}',
    '</style>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    '<text x="12" y="24" class="title">nn-embedding native (1 thread): speed-up over each alternative, log scale</text>',
    `<text x="12" y="42" class="sub">${escape(subtitle)}</text>`,
    `<text x="12" y="57" class="sub">${escape(run)}</text>`,
    legend,
    ...grid,
    ...body,
    `<text x="12" y="${height - 10}" class="sub">${escape('* tfjs scatterND: the practical tfjs alternative to its gather gradient (a fresh N×D gradient per call). Bars left of 1×: the alternative is faster.')}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
