import { CST, Lexer } from 'yaml';

/**
 * YAML texts with bounded nesting. The `yaml` library parses nested collections recursively: a
 * flow sequence about 800 brackets deep (`[[[[…`, two bytes a level) overflows the stack, and
 * the library's handler for that error can itself end the process. Specs and manifests nest a
 * handful of levels, so a small limit turns such a text into a clear error before parsing.
 */
export const maxYamlDepth = 64;

/**
 * The first line on which `text` may nest more than `limit` levels deep, or null. One pass over
 * the lexer's tokens, which reads any depth without recursion: a line's depth is counted as the
 * flow brackets open, plus its indentation, plus the block indicators (`-`, `?`, `:`) before its
 * content. That is never less than the parser's nesting there, and for ordinary YAML (indented
 * two spaces a level) about twice it.
 */
export function yamlNestsDeeperThan(text: string, limit: number): number | null {
  let line = 1;
  let flow = 0;
  let onLine = 0;
  let atLineStart = true;
  for (const token of new Lexer().lex(text)) {
    const type = CST.tokenType(token);
    if (type === 'newline') {
      line++;
      onLine = 0;
      atLineStart = true;
      continue;
    }
    const breaks = token.split('\n').length - 1;
    if (breaks > 0) {
      // A scalar over several lines (block, quoted or plain): text, not structure.
      line += breaks;
      onLine = 0;
      atLineStart = token.endsWith('\n');
      continue;
    }
    if (type === 'space') {
      if (atLineStart) onLine += token.length;
      continue;
    }
    atLineStart = false;
    if (type === 'flow-map-start' || type === 'flow-seq-start') flow++;
    else if (type === 'flow-map-end' || type === 'flow-seq-end') flow = Math.max(0, flow - 1);
    else if (type === 'seq-item-ind' || type === 'explicit-key-ind' || type === 'map-value-ind') onLine++;
    if (flow + onLine > limit) return line;
  }
  return null;
}

/** Why `text` is refused before parsing (it may nest too deep), or null. */
export function yamlDepthProblem(text: string, limit = maxYamlDepth): string | null {
  const line = yamlNestsDeeperThan(text, limit);
  return line === null
    ? null
    : `line ${line} nests more than ${limit} levels deep (brackets, indentation and indicators)`;
}
