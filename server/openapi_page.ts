// Renders an OpenAPI document as one self-contained HTML page (GET /docs):
// inline CSS, no scripts, nothing fetched from elsewhere, so it works offline
// and under a strict Content-Security-Policy. Operations are grouped by tag;
// schemas are shown as JSON with $refs linking to the components section.

interface Operation {
  operationId: string;
  tags?: readonly string[];
  summary?: string;
  description?: string;
  parameters?: ReadonlyArray<{ name: string; in: string; required?: boolean; description?: string; schema?: unknown }>;
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
}

interface Document {
  info: { title: string; version: string; description?: string };
  tags?: ReadonlyArray<{ name: string; description?: string }>;
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, unknown> };
}

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

/** Markdown's inline code only: `x` becomes <code>x</code>. */
const prose = (text = '') => escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');

function schemaHtml(schema: unknown): string {
  const text = escapeHtml(JSON.stringify(schema, null, 2));
  return `<pre>${text.replace(/&quot;#\/components\/schemas\/(\w+)&quot;/g, '<a href="#schema-$1">$1</a>')}</pre>`;
}

function contentHtml(content?: Record<string, { schema: unknown }>): string {
  return Object.entries(content ?? {})
    .map(([type, { schema }]) => `<div class="type">${escapeHtml(type)}</div>${schemaHtml(schema)}`)
    .join('');
}

function operationHtml(path: string, method: string, op: Operation): string {
  const params = op.parameters?.length
    ? `<table><tr><th>parameter</th><th>in</th><th>what</th></tr>${op.parameters
        .map(
          (p) =>
            `<tr><td><code>${escapeHtml(p.name)}</code>${p.required ? ' (required)' : ''}</td><td>${p.in}</td><td>${prose(p.description)}</td></tr>`,
        )
        .join('')}</table>`
    : '';
  const body = op.requestBody ? `<h4>Request body</h4>${contentHtml(op.requestBody.content)}` : '';
  const responses = Object.entries(op.responses)
    .map(
      ([status, r]) =>
        `<tr><td class="status">${status}</td><td>${prose(r.description)}${contentHtml(r.content)}</td></tr>`,
    )
    .join('');
  return `<section class="op" id="${escapeHtml(op.operationId)}">
<h3><span class="method ${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code> ${prose(op.summary)}</h3>
<p>${prose(op.description)}</p>${params}${body}
<h4>Responses</h4><table>${responses}</table></section>`;
}

export function renderOpenApiPage(doc: Document): string {
  const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path, method, op })),
  );
  const sections = (doc.tags ?? []).map((tag) => {
    const ops = operations.filter(({ op }) => op.tags?.includes(tag.name));
    return `<h2>${escapeHtml(tag.name)}</h2><p>${prose(tag.description)}</p>${ops.map(({ path, method, op }) => operationHtml(path, method, op)).join('\n')}`;
  });
  const schemas = Object.entries(doc.components?.schemas ?? {})
    .map(
      ([name, schema]) =>
        `<section id="schema-${escapeHtml(name)}"><h3>${escapeHtml(name)}</h3>${schemaHtml(schema)}</section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(doc.info.title)}</title><link rel="icon" href="data:,">
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1d2330; }
code, pre { font: 13px/1.4 ui-monospace, monospace; } pre { background: #f4f5f7; padding: .5rem; overflow-x: auto; }
.op { border: 1px solid #d8dbe2; border-radius: 6px; padding: 0 1rem; margin: 1rem 0; }
.method { display: inline-block; min-width: 3.5rem; text-align: center; border-radius: 4px; color: #fff; font-size: 13px; padding: 0 .3rem; }
.get { background: #1f6feb; } .post { background: #1a7f37; } .put, .patch { background: #9a6700; } .delete { background: #cf222e; }
table { border-collapse: collapse; width: 100%; } td, th { border-top: 1px solid #e5e7eb; padding: .3rem; text-align: left; vertical-align: top; }
.status { font-weight: 600; width: 4rem; } .type { color: #57606a; font-size: 13px; }
</style></head><body>
<h1>${escapeHtml(doc.info.title)} <small>v${escapeHtml(doc.info.version)}</small></h1>
<p>${prose(doc.info.description)}</p><p>Machine-readable: <a href="/openapi.json">/openapi.json</a></p>
${sections.join('\n')}
<h2>Schemas</h2>${schemas}
</body></html>
`;
}
