// check.mjs FILE...: parse each Mermaid diagram with mermaid's own parser
// (the one GitLab and GitHub render with) and print what it understood, one
// JSON line per file in order: the diagram type, every vertex, edge,
// subgraph and class definition. A syntax error exits 1 with the file and
// mermaid's message. One run checks many files: Node and mermaid take a
// second or two to start. Runs offline under Node 20: mermaid
// needs a DOM only for its sanitiser, which jsdom provides; nothing is drawn
// (drawing needs a browser's layout).
//
// MERMAID_MODULES names the node_modules directory that `npm ci` made from
// this directory's package-lock.json (make puts it in bin/mermaid).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.env.MERMAID_MODULES;
const files = process.argv.slice(2);
if (!modules || files.length === 0) {
  console.error('usage: MERMAID_MODULES=DIR/node_modules node check.mjs FILE...');
  process.exit(2);
}
const require = createRequire(join(resolve(modules), 'resolve.js'));
const { JSDOM } = require('jsdom');
const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import(pathToFileURL(require.resolve('mermaid')).href);
mermaid.initialize({ startOnLoad: false });

for (const file of files) {
  const text = readFileSync(file, 'utf8');
  let diagram;
  try {
    await mermaid.parse(text);
    diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
  } catch (e) {
    console.error(`${file}: ${String(e.message ?? e)}`);
    process.exit(1);
  }
  const db = diagram.db;
  console.log(JSON.stringify({
    type: diagram.type,
    vertices: [...db.getVertices().values()].map((v) => ({ id: v.id, text: v.text, classes: v.classes })),
    edges: db.getEdges().map((e) => ({ from: e.start, to: e.end, type: e.type, stroke: e.stroke, text: e.text })),
    subgraphs: db.getSubGraphs().map((s) => ({ id: s.id, title: s.title, nodes: s.nodes })),
    classDefs: [...db.getClasses().keys()],
  }));
}
