/**
 * Errors of the port-mapping clients: an EngineError whose code names the
 * protocol and, when the gateway gave one, its result code
 * (`UPNP_718`, `NATPMP_3`, `PCP_8`), and a message that says what it means.
 * `PORTMAP_TIMEOUT`, `PORTMAP_BAD_ANSWER` and `PORTMAP_UNAVAILABLE` cover
 * gateways that are silent, speak nonsense, or are not there.
 */
import { EngineError } from '../errors.js';

export type GatewayProtocol = 'upnp' | 'natpmp' | 'pcp';

export class PortMapError extends EngineError {
  constructor(
    code: string,
    message: string,
    readonly protocol: GatewayProtocol,
    /** The gateway's own result / UPnP error code, when it gave one. */
    readonly gatewayCode?: number,
    /** Extra facts from a failed answer (e.g. the external address a PCP error still names). */
    readonly detail?: { externalIp?: string | null },
  ) {
    super(code, message);
    this.name = 'PortMapError';
  }
}

export function gatewayError(protocol: GatewayProtocol, gatewayCode: number, text: string, detail?: { externalIp?: string | null }): PortMapError {
  return new PortMapError(`${protocol.toUpperCase()}_${gatewayCode}`, text, protocol, gatewayCode, detail);
}
