import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify';
import { MloopError } from '../../core/errors';
import type { Principal, Role } from '../../core/auth/roles';
import type { TokenVerifier } from '../../core/auth/token-store';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The role a request needs for this route; every route declares one, or `public`. */
    role?: Role;
    /** No token needed (health checks). */
    public?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyInstance {
    /** Every route with what it needs, as declared: for tests that must cover them all. */
    routeAccess: RouteAccess[];
  }
}

export interface RouteAccess {
  method: string;
  url: string;
  access: Role | 'public';
  /** The route's request and response schemas, as declared. */
  schema?: FastifySchema & { hide?: boolean };
}

// Decorates the plugin contexts whose routes are all public (the API's own documentation pages).
const publicScope = 'mloopPublicScope';

/** Registers `plugin` so that every route it adds is public, routes of third-party plugins included. */
export async function registerPublic(
  app: FastifyInstance,
  plugin: (scope: FastifyInstance) => Promise<void>,
): Promise<void> {
  await app.register(async (scope) => {
    scope.decorate(publicScope, true);
    await plugin(scope);
  });
}

export interface AuthOptions {
  tokens: TokenVerifier;
  /** Host names the API answers to; default the loopback names. */
  allowedHosts?: readonly string[];
}

const bearer = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;
const needToken = 'this API needs a bearer token (Authorization: Bearer <token>)';

/**
 * Authenticates every request once, before its body is read: the bearer token names the
 * requester (`requesterOf`), whose roles must include the one the route declares in its
 * `config.role`. A route that declares neither a role nor `public` fails the app's start.
 * The `challenge` detail becomes the answer's WWW-Authenticate parameters (RFC 6750).
 */
export function registerAuth(app: FastifyInstance, opts: AuthOptions): void {
  app.decorateRequest('principal', null);
  const routeAccess: RouteAccess[] = [];
  app.decorate('routeAccess', routeAccess);

  app.addHook('onRoute', function (route) {
    if (this.hasDecorator(publicScope)) route.config = { ...route.config, public: true };
    const config = route.config as { role?: Role; public?: boolean } | undefined;
    if (!config?.role && !config?.public) {
      throw new Error(`route ${String(route.method)} ${route.url} declares no role (config.role) and is not public`);
    }
    for (const method of [route.method].flat())
      routeAccess.push({
        method,
        url: route.url,
        access: config.role ?? 'public',
        ...(route.schema ? { schema: route.schema } : {}),
      });
  });

  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config as { role?: Role; public?: boolean };
    if (config.public) return;
    const header = request.headers.authorization;
    if (header === undefined) throw new MloopError('Unauthorized', needToken);
    const token = bearer.exec(header)?.[1];
    const principal = token === undefined ? undefined : opts.tokens.authenticate(token);
    if (!principal) {
      throw new MloopError('Unauthorized', 'the bearer token is malformed, unknown or revoked', {
        challenge: 'error="invalid_token"',
      });
    }
    request.principal = principal;
    // Every later log line of this request, "request completed" included, says who sent it.
    request.log = reply.log = request.log.child({ subject: principal.subject });
    // Unknown routes declare no role: a valid token of any role gets their 404.
    if (config.role) requireRole(request, config.role);
  });
}

/** Refuses (403) a request whose token lacks `role`; also for checks that depend on more than the route. */
export function requireRole(request: FastifyRequest, role: Role): void {
  const principal = requesterOf(request);
  if (principal.roles.includes(role)) return;
  throw new MloopError(
    'Forbidden',
    `"${principal.subject}" lacks the role "${role}" (has: ${principal.roles.join(', ')})`,
    {
      challenge: `error="insufficient_scope", scope="${role}"`,
    },
  );
}

/** Who sent the request, as its token says; the subject is what lineage records. */
export function requesterOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new MloopError('Unauthorized', needToken);
  return request.principal;
}
