/**
 * The HTTP endpoint part (`/health`, `/ready`, `/metrics`): present when `http_endpoint.enabled`;
 * its restart key is the values of the fields the `http_endpoint` agent option declares.
 */
import type { AgentConfig } from '../../lib/config/types.js';
import { HTTP_ENDPOINT_OPTIONS } from '../../lib/config/agentOptions.js';
import { declared, derive, type Built, type KindSpec, type Part, type PartContext } from './types.js';

export type HttpEndpointPart = Part<'http_endpoint', unknown> & { port: number };

export function httpEndpointPartComponents(cfg: AgentConfig): Built[] {
  return [{ components: [declared('http_endpoint', HTTP_ENDPOINT_OPTIONS)], own: (cfg.http_endpoint ?? {}) as Record<string, unknown> }];
}

export function httpEndpointSpecs(cfg: AgentConfig, ctx: PartContext): KindSpec<HttpEndpointPart>[] {
  if (!cfg.http_endpoint?.enabled) return [];
  const { slice, live } = derive(httpEndpointPartComponents(cfg), cfg);
  return [
    {
      key: 'http_endpoint',
      kind: 'http_endpoint',
      slice,
      live,
      create: async () => {
        const { startHttpEndpoint } = await import('../httpEndpoint.js');
        const endpoint = await startHttpEndpoint(cfg.http_endpoint!, { status: () => ctx.agentStatus(), logger: ctx.logger });
        return { kind: 'http_endpoint', port: endpoint.port, stop: () => endpoint.stop(), status: () => endpoint.status() };
      },
    },
  ];
}
