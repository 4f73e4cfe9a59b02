// A multi-document YAML text read one Document at a time (yaml's Parser → Composer stream), each with the
// line of any node; and the cut of such a text at its `---` lines, so documents can be parsed (and cached)
// one by one the way kubectl's YAML reader splits a stream.

import { Composer, LineCounter, Parser, type Document } from 'yaml';

export interface ComposedDocument {
  readonly doc: Document.Parsed;
  /** 1-based line of the deepest node on `path` that exists in the document (`[]`: the document's content). */
  lineOf(path: readonly PropertyKey[]): number | undefined;
}

/**
 * The documents of `text` in order. The stream is lazy: a document is composed when asked for and can be
 * dropped once read, instead of the whole stream's Documents (the bulk of the memory) being alive at once.
 */
export function* composeDocuments(text: string): Generator<ComposedDocument> {
  const lineCounter = new LineCounter();
  for (const doc of new Composer().compose(new Parser(lineCounter.addNewLine).parse(text))) {
    yield { doc, lineOf: (path) => nodeLine(doc, lineCounter, path) };
  }
}

function nodeLine(doc: Document.Parsed, lineCounter: LineCounter, path: readonly PropertyKey[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true) as unknown;
    const range = (node as { range?: readonly number[] } | null | undefined)?.range;
    if (range?.[0] !== undefined) return lineCounter.linePos(range[0]).line;
  }
  return undefined;
}

/** A piece of a YAML stream holding whole documents: the first piece, or one starting at a `---` line. */
export interface StreamPiece {
  readonly text: string;
  /** 1-based line of the piece's first character in the whole text. */
  readonly line: number;
}

/**
 * A `---` at the start of a line, followed by white space or the end of the line, always starts a document
 * (YAML 1.2 §9.1.4: no scalar or flow collection may hold such a line), so the text between two of them is
 * exactly one document and parses alone as it does in the stream. Directives (`%YAML`, `%TAG`, which carry
 * into the next document) and `...` document ends are left to the whole-stream parse: undefined.
 */
export function splitDocuments(text: string): StreamPiece[] | undefined {
  if (UNSPLITTABLE.test(text)) return undefined;
  const pieces: StreamPiece[] = [];
  let start = 0;
  let line = 1;
  const cut = (end: number) => {
    if (end > start) pieces.push({ text: text.slice(start, end), line });
    for (let i = text.indexOf('\n', start); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) line++;
    start = end;
  };
  for (const m of text.matchAll(DOCUMENT_START)) cut(m.index);
  cut(text.length);
  return pieces;
}

const DOCUMENT_START = /^---(?=[ \t\r\n]|$)/gm;
const UNSPLITTABLE = /^(?:%|\.\.\.(?:[ \t\r\n]|$))/m;
