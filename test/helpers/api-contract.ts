import type { FastifyInstance } from 'fastify';

interface OpenApiOperation {
  parameters?: Array<{ in: string; name: string }>;
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
  security?: unknown[];
}
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, unknown>; securitySchemes?: Record<string, unknown> };
}

/** `/v1/models/:name` as OpenAPI writes it: `/v1/models/{name}`. */
export const openApiPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/**
 * What the live route table of `app` lacks against `doc`: every route but the hidden docs pages
 * must be in the document with its request schema (params, query, headers or body) and a response
 * schema for each status it answers: a 2xx, 400 when it takes input, 401 and 403 behind a token,
 * and 500, errors with the shared ErrorBody.
 */
export function contractProblems(app: FastifyInstance, doc: OpenApiDocument): string[] {
  const problems: string[] = [];
  for (const route of app.routeAccess) {
    if (route.method === 'HEAD' || route.schema?.hide) continue;
    const name = `${route.method} ${route.url}`;
    const schema = route.schema as Record<string, unknown> | undefined;
    if (!schema) {
      problems.push(`${name}: no schema`);
      continue;
    }
    if (!['params', 'querystring', 'headers', 'body'].some((k) => schema[k]))
      problems.push(`${name}: no request schema`);
    const declared = Object.keys((schema.response as Record<string, unknown> | undefined) ?? {});
    const needed = ['500', ...(route.access === 'public' ? [] : ['401', '403'])];
    if (!declared.some((s) => /^2\d\d$/.test(s))) problems.push(`${name}: no 2xx response schema`);
    for (const s of needed) if (!declared.includes(s)) problems.push(`${name}: no ${s} response schema`);

    const op = doc.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
    if (!op) {
      problems.push(`${name}: not in the OpenAPI document`);
      continue;
    }
    const params = [...route.url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]);
    for (const p of params)
      if (!op.parameters?.some((x) => x.in === 'path' && x.name === p))
        problems.push(`${name}: path parameter ${p} undocumented`);
    // Any media type will do (JSON, or text for a metrics page), as long as it has a schema.
    const described = (content: Record<string, { schema?: unknown }> | undefined): boolean =>
      Object.values(content ?? {}).some((c) => c.schema !== undefined);
    if (schema.body && !described(op.requestBody?.content)) problems.push(`${name}: request body undocumented`);
    for (const s of declared) {
      const response = op.responses?.[s];
      if (!described(response?.content)) problems.push(`${name}: response ${s} undocumented`);
      if (/^[45]\d\d$/.test(s) && !JSON.stringify(response ?? {}).includes('#/components/schemas/ErrorBody'))
        problems.push(`${name}: response ${s} is not the shared ErrorBody`);
    }
    if (route.access !== 'public' && !JSON.stringify(op.security ?? []).includes('bearer'))
      problems.push(`${name}: no bearer security requirement`);
  }
  return problems;
}
