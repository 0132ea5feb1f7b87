import type { FastifyInstance } from 'fastify';
import { invalidInput } from '../core/errors';

/** Deeper than any request needs; deep enough input would overflow recursive code downstream. */
export const maxBodyDepth = 32;

/** How deeply arrays and objects nest in JSON text, found in one pass without recursion. */
export function nestingDepth(text: string, stopAbove = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max && (max = depth) > stopAbove) return max;
    } else if ((c === 0x7d || c === 0x5d) && depth > 0) depth--;
  }
  return max;
}

/**
 * Fastify's JSON parser (with its prototype-poisoning checks), behind a nesting limit: a body
 * nested thousands deep parses, but then overflows the stack when Temporal serialises it (a 500).
 */
export function registerJsonBodies(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (nestingDepth(text, maxBodyDepth) > maxBodyDepth) {
      done(invalidInput('body', `nests arrays and objects more than ${maxBodyDepth} levels deep`), undefined);
      return;
    }
    void parse(request, text, done);
  });
}
