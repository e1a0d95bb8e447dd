// What every bench leaves behind: its figures appended to bench/RESULTS.md
// with when, where (machine, load average), which commit and the command that
// produced them, and its charts as SVG files in bench/charts/ (the latest run
// of each; README links them). Charts are drawn by Observable Plot on a
// server-side DOM (linkedom): marks and scales, not hand-built strings.
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import * as Plot from '@observablehq/plot';
import { parseHTML } from 'linkedom';
import { ROOT_DIR } from './helpers.ts';

const RESULTS = join(ROOT_DIR, 'bench', 'RESULTS.md');
const CHARTS = join(ROOT_DIR, 'bench', 'charts');

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT_DIR, encoding: 'utf8' }).trim();
    // The benches' own output does not make the code a different one.
    const dirty = execFileSync(
      'git',
      ['status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench/RESULTS.md', ':!bench/charts'],
      { cwd: ROOT_DIR, encoding: 'utf8' },
    ).trim();
    return dirty ? `${sha} (with uncommitted changes)` : sha;
  } catch {
    return 'unknown';
  }
}

/** One bench run's record: started when the bench starts, so the load average is the one it began under. */
export class BenchReport {
  private readonly started = new Date();
  private readonly loadAtStart = load();
  private readonly lines: string[] = [];
  private readonly charts: string[] = [];
  private readonly bench: string;
  constructor(bench: string) {
    this.bench = bench;
  }

  /** A line of figures (also printed). */
  line(text: string): void {
    console.log(text);
    this.lines.push(text);
  }

  /**
   * Draws a chart to bench/charts/<bench>_<name>.svg. `series` names the
   * field that tells lines apart (labelled at their last point); `rules` are
   * horizontal reference lines (a limit, a target).
   */
  chart(
    name: string,
    title: string,
    data: Array<Record<string, unknown>>,
    opts: {
      x: string;
      y: string;
      series?: string;
      xLabel: string;
      yLabel: string;
      xType?: 'linear' | 'log';
      yType?: 'linear' | 'log';
      dots?: boolean;
      rules?: Array<{ y: number; label: string }>;
    },
  ): void {
    const { document } = parseHTML('<!doctype html><html><body></body></html>');
    const z = opts.series;
    const marks: Plot.Markish[] = [
      Plot.lineY(data, { x: opts.x, y: opts.y, z, stroke: z ?? 'steelblue', strokeWidth: 1.5 }),
      ...(opts.dots ? [Plot.dot(data, { x: opts.x, y: opts.y, stroke: z ?? 'steelblue', r: 2.5 })] : []),
      ...(z
        ? [Plot.text(data, Plot.selectLast({ x: opts.x, y: opts.y, z, text: z, fill: z, textAnchor: 'start', dx: 4 }))]
        : []),
      ...(opts.rules ?? []).flatMap((r) => [
        Plot.ruleY([r.y], { stroke: 'firebrick', strokeDasharray: '4,3' }),
        Plot.text([r.label], { y: r.y, frameAnchor: 'left', dy: -6, dx: 4, fill: 'firebrick', textAnchor: 'start' }),
      ]),
    ];
    const svg = Plot.plot({
      document: document as unknown as Document,
      width: 760,
      height: 400,
      marginTop: 50,
      marginRight: 150,
      marginLeft: 60,
      style: { background: 'white' },
      x: { label: opts.xLabel, type: opts.xType ?? 'linear', grid: true },
      y: { label: opts.yLabel, type: opts.yType ?? 'linear', grid: true, zero: (opts.yType ?? 'linear') === 'linear' },
      color: { type: 'categorical' },
      marks,
    }) as unknown as Element;
    svg.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
    svg.setAttribute('role', 'img');
    const label = document.createElementNS('http://www.w3.org/2000/svg', 'title');
    label.textContent = title;
    svg.insertBefore(label, svg.firstChild);
    // The title, above the plot (Plot's own title makes an HTML figure, not an SVG file).
    const heading = document.createElementNS('http://www.w3.org/2000/svg', 'text');
    for (const [k, v] of Object.entries({
      x: '10',
      y: '20',
      'text-anchor': 'start',
      'font-size': '14',
      'font-weight': 'bold',
    })) {
      heading.setAttribute(k, v);
    }
    heading.textContent = title;
    svg.appendChild(heading);
    mkdirSync(CHARTS, { recursive: true });
    const file = `${this.bench}_${name}.svg`;
    writeFileSync(join(CHARTS, file), `${svg.outerHTML}\n`);
    this.charts.push(`[${title}](charts/${file})`);
  }

  /** Appends this run to bench/RESULTS.md. */
  save(): void {
    const cpu = cpus();
    const head = existsSync(RESULTS)
      ? ''
      : '# Bench results\n\nEvery run of a bench appends its figures here (newest last). Figures taken while the machine was loaded by other work (see each load average) do not judge the goals.\n';
    const command = `node ${process.argv
      .slice(1)
      .map((a) => a.replace(`${ROOT_DIR}/`, ''))
      .join(' ')}`;
    appendFileSync(
      RESULTS,
      `${head}
## ${this.bench}, ${this.started.toISOString().replace(/\.\d+Z$/, 'Z')}

- machine: ${hostname()}, ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${type()} ${release()}
- commit: ${commit()}
- load average (1, 5, 15 min): ${this.loadAtStart} at the start, ${load()} at the end
- command: \`${command}\`${Object.entries(process.env)
        .filter(([k]) => k.startsWith('BENCH_'))
        .map(([k, v]) => ` ${k}=${v}`)
        .join('')}

\`\`\`
${this.lines.join('\n')}
\`\`\`
${this.charts.length ? `\nCharts: ${this.charts.join(', ')}\n` : ''}`,
    );
    console.log(`(appended to bench/RESULTS.md${this.charts.length ? `; charts in bench/charts/` : ''})`);
  }
}
