// A small streaming CSV reader (RFC 4180): fields separated by commas, records by
// CRLF, LF or a lone CR; a field in double quotes may hold commas, line breaks and
// doubled quotes (""). Lenient where the RFC is silent: a quote inside an unquoted
// field is kept as text. A UTF-8 byte order mark before the first record is dropped.
// Used by spots:import and the inventory sync (lib/meter_rows.ts).

export interface CsvRecord {
  /** 1-based line of the file on which the record starts. */
  line: number;
  fields: string[];
  /** Set when the record is malformed (unterminated quote, text after a closing quote). */
  error?: string;
}

const QUOTE = 34; // "
const COMMA = 44; // ,
const CR = 13;
const LF = 10;

function lineBreaks(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === LF || (c === CR && text.charCodeAt(i + 1) !== LF)) n++;
  }
  return n;
}

/**
 * Incremental parser: push() text as it arrives and get back the records it
 * completed; end() returns the last record when the input has no final line break.
 */
export class CsvParser {
  private buffer = '';
  private line = 1;
  private started = false;

  push(chunk: string): CsvRecord[] {
    this.buffer += chunk;
    return this.drain(false);
  }

  end(): CsvRecord[] {
    return this.drain(true);
  }

  private drain(final: boolean): CsvRecord[] {
    if (!this.started && this.buffer.length > 0) {
      if (this.buffer.charCodeAt(0) === 0xfeff) this.buffer = this.buffer.slice(1);
      this.started = true;
    }
    const out: CsvRecord[] = [];
    const buf = this.buffer;
    let pos = 0;
    while (pos < buf.length) {
      const parsed = this.record(buf, pos, final);
      if (!parsed) break; // incomplete: wait for more input
      out.push(parsed.record);
      this.line += 1 + parsed.innerBreaks;
      pos = parsed.next;
    }
    this.buffer = buf.slice(pos);
    return out;
  }

  /** One record starting at pos, or null when the buffer ends inside it and more may come. */
  private record(
    buf: string,
    start: number,
    final: boolean,
  ): { record: CsvRecord; next: number; innerBreaks: number } | null {
    const fields: string[] = [];
    let error: string | undefined;
    let innerBreaks = 0;
    let pos = start;
    for (;;) {
      let value: string;
      if (buf.charCodeAt(pos) === QUOTE) {
        // Quoted field: runs to the next quote not followed by another quote.
        value = '';
        let i = pos + 1;
        for (;;) {
          const q = buf.indexOf('"', i);
          if (q < 0) {
            if (!final) return null;
            value += buf.slice(i);
            error ??= 'unterminated quoted field';
            pos = buf.length;
            break;
          }
          value += buf.slice(i, q);
          if (q + 1 === buf.length && !final) return null; // "" split across chunks?
          if (buf.charCodeAt(q + 1) === QUOTE) {
            value += '"';
            i = q + 2;
            continue;
          }
          pos = q + 1;
          break;
        }
        innerBreaks += lineBreaks(value);
        // Anything between the closing quote and the next delimiter is malformed; keep it.
        let j = pos;
        while (j < buf.length) {
          const c = buf.charCodeAt(j);
          if (c === COMMA || c === CR || c === LF) break;
          j++;
        }
        if (j > pos) {
          if (j === buf.length && !final) return null;
          error ??= 'text after a closing quote';
          value += buf.slice(pos, j);
          pos = j;
        }
      } else {
        let j = pos;
        while (j < buf.length) {
          const c = buf.charCodeAt(j);
          if (c === COMMA || c === CR || c === LF) break;
          j++;
        }
        if (j === buf.length && !final) return null;
        value = buf.slice(pos, j);
        pos = j;
      }
      fields.push(value);
      if (pos >= buf.length) {
        if (!final) return null;
        return { record: { line: this.line, fields, ...(error ? { error } : {}) }, next: pos, innerBreaks };
      }
      const c = buf.charCodeAt(pos);
      if (c === COMMA) {
        pos++;
        if (pos === buf.length && !final) return null;
        if (pos === buf.length) {
          fields.push(''); // a trailing comma at the very end: one more empty field
          return { record: { line: this.line, fields, ...(error ? { error } : {}) }, next: pos, innerBreaks };
        }
        continue;
      }
      if (c === CR) {
        if (pos + 1 === buf.length && !final) return null; // is an LF coming?
        pos += buf.charCodeAt(pos + 1) === LF ? 2 : 1;
      } else {
        pos += 1; // LF
      }
      return { record: { line: this.line, fields, ...(error ? { error } : {}) }, next: pos, innerBreaks };
    }
  }
}

/** Parses a whole CSV text. */
export function parseCsv(text: string): CsvRecord[] {
  const parser = new CsvParser();
  return [...parser.push(text), ...parser.end()];
}

/** Records of a text stream (e.g. fs.createReadStream(file, 'utf8')), in batches as chunks arrive. */
export async function* readCsv(stream: AsyncIterable<string | Uint8Array>): AsyncGenerator<CsvRecord[]> {
  const parser = new CsvParser();
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of stream) {
    const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    const records = parser.push(text);
    if (records.length) yield records;
  }
  const tail = decoder.decode();
  const records = [...(tail ? parser.push(tail) : []), ...parser.end()];
  if (records.length) yield records;
}

/** Whether a record is an empty line (one empty field). */
export function isBlank(record: CsvRecord): boolean {
  return record.fields.length === 1 && record.fields[0] === '' && !record.error;
}
