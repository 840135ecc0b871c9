/**
 * UPnP Internet Gateway Device (IGD v1 and v2) messages: SSDP discovery
 * (UPnP Device Architecture 1.1 §1.3: M-SEARCH to 239.255.255.250:1900 and the
 * unicast HTTP-over-UDP answers), the device description XML, and SOAP 1.1 calls
 * to WANIPConnection:1/2 and WANPPPConnection:1 (AddPortMapping,
 * AddAnyPortMapping (v2), DeletePortMapping, GetExternalIPAddress,
 * GetGenericPortMappingEntry) with their answers and UPnP error codes.
 * Pure functions; the client is main/engine/portmap/upnp-client.ts.
 *
 * XML goes through fast-xml-parser after its validator, with namespace prefixes
 * removed and every value kept as a string. Documents over 64 KiB and documents
 * with a DOCTYPE (entity expansion) are refused. parse* never throws on
 * hostile input: it returns `{ ok: false, error }`.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { ParseResult } from './signaling.js';

export const SSDP_ADDRESS = '239.255.255.250';
export const SSDP_PORT = 1900;
export const MAX_XML_BYTES = 64 * 1024;
export const MAX_SSDP_BYTES = 8 * 1024;
export const IGD_DEVICE_TYPES = ['urn:schemas-upnp-org:device:InternetGatewayDevice:2', 'urn:schemas-upnp-org:device:InternetGatewayDevice:1'] as const;
/** WAN connection services, most preferred first. */
export const WAN_SERVICE_TYPES = [
  'urn:schemas-upnp-org:service:WANIPConnection:2',
  'urn:schemas-upnp-org:service:WANIPConnection:1',
  'urn:schemas-upnp-org:service:WANPPPConnection:1',
] as const;

/** UPnP error codes a gateway returns in a SOAP fault (UDA 1.1 §3.2.2, WANIPConnection:2 §2.4). */
export const UPNP_ERRORS: Record<number, { name: string; meaning: string }> = {
  401: { name: 'Invalid Action', meaning: 'the gateway does not know this action' },
  402: { name: 'Invalid Args', meaning: 'the gateway rejected the arguments' },
  501: { name: 'Action Failed', meaning: 'the gateway could not do it (often: it has no public address, or is itself behind NAT)' },
  600: { name: 'Argument Value Invalid', meaning: 'an argument value is invalid' },
  601: { name: 'Argument Value Out of Range', meaning: 'an argument is out of range' },
  605: { name: 'String Argument Too Long', meaning: 'the description is too long for the gateway' },
  606: { name: 'Action not authorized', meaning: 'the gateway does not allow this mapping (port range or client not permitted, or UPnP changes are locked)' },
  713: { name: 'SpecifiedArrayIndexInvalid', meaning: 'no mapping at that index (end of the list)' },
  714: { name: 'NoSuchEntryInArray', meaning: 'no such mapping' },
  715: { name: 'WildCardNotPermittedInSrcIP', meaning: 'the gateway wants a specific remote host' },
  716: { name: 'WildCardNotPermittedInExtPort', meaning: 'the gateway wants a specific external port' },
  718: { name: 'ConflictInMappingEntry', meaning: 'that external port is already mapped to another device' },
  724: { name: 'SamePortValuesRequired', meaning: 'the gateway needs the internal and external port to be the same' },
  725: { name: 'OnlyPermanentLeasesSupported', meaning: 'the gateway only supports mappings without expiry' },
  726: { name: 'RemoteHostOnlySupportsWildcard', meaning: 'the gateway only supports any remote host' },
  727: { name: 'ExternalPortOnlySupportsWildcard', meaning: 'the gateway only supports any external port' },
  728: { name: 'NoPortMapsAvailable', meaning: 'the gateway has no free mapping slots' },
  729: { name: 'ConflictWithOtherMechanisms', meaning: 'the port is taken by another mechanism on the gateway' },
  732: { name: 'WildCardNotPermittedInIntPort', meaning: 'the gateway wants a specific internal port' },
};

export function upnpErrorText(code: number, description?: string): string {
  const e = UPNP_ERRORS[code];
  const name = e?.name ?? description ?? 'unknown error';
  return `UPnP ${code} ${name}: ${e?.meaning ?? description ?? 'unknown error code'}`;
}

// ---- SSDP ------------------------------------------------------------------

export function encodeMSearch(searchTarget: string, mxSec = 1): Buffer {
  return Buffer.from(`M-SEARCH * HTTP/1.1\r\nHOST: ${SSDP_ADDRESS}:${SSDP_PORT}\r\nMAN: "ssdp:discover"\r\nMX: ${mxSec}\r\nST: ${searchTarget}\r\n\r\n`);
}

export interface SsdpResponse {
  location: string;
  st: string;
  usn: string;
  server: string;
}

/** An SSDP answer ("HTTP/1.1 200 OK" with LOCATION) or NOTIFY; headers are case-insensitive. */
export function parseSsdpResponse(data: Uint8Array | string): ParseResult<SsdpResponse> {
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  if (size > MAX_SSDP_BYTES) return { ok: false, error: `SSDP answer of ${size} bytes exceeds ${MAX_SSDP_BYTES}` };
  const text = typeof data === 'string' ? data : Buffer.from(data).toString('latin1');
  const [first = '', ...lines] = text.split(/\r?\n/);
  if (!/^HTTP\/1\.[01] 200\b/i.test(first) && !/^NOTIFY \* HTTP\/1\.[01]/i.test(first)) return { ok: false, error: `not an SSDP answer (${JSON.stringify(first.slice(0, 40))})` };
  const headers = new Map<string, string>();
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  const location = headers.get('location');
  if (!location) return { ok: false, error: 'SSDP answer without LOCATION' };
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return { ok: false, error: `SSDP LOCATION is not a URL: ${location.slice(0, 100)}` };
  }
  if (url.protocol !== 'http:') return { ok: false, error: `SSDP LOCATION is not http: ${location.slice(0, 100)}` };
  return { ok: true, value: { location: url.toString(), st: headers.get('st') ?? headers.get('nt') ?? '', usn: headers.get('usn') ?? '', server: headers.get('server') ?? '' } };
}

// ---- XML -------------------------------------------------------------------

const parser = new XMLParser({ ignoreAttributes: true, removeNSPrefix: true, parseTagValue: false, trimValues: true, htmlEntities: false });
type Xml = Record<string, unknown>;

/** Validate and parse; the error says what is wrong and where. */
export function parseXml(text: string): ParseResult<Xml> {
  const size = Buffer.byteLength(text);
  if (size > MAX_XML_BYTES) return { ok: false, error: `XML of ${size} bytes exceeds ${MAX_XML_BYTES}` };
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) return { ok: false, error: 'XML with a DOCTYPE or entity declaration is refused' };
  try {
    const valid = XMLValidator.validate(text);
    if (valid !== true) return { ok: false, error: `bad XML at line ${valid.err.line}, column ${valid.err.col}: ${valid.err.msg}` };
    const doc = parser.parse(text) as unknown;
    if (!doc || typeof doc !== 'object') return { ok: false, error: 'empty XML document' };
    return { ok: true, value: doc as Xml };
  } catch (err) {
    return { ok: false, error: `bad XML: ${err instanceof Error ? err.message : String(err)}` };
  }
}

const obj = (v: unknown): Xml | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Xml) : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

// ---- device description ------------------------------------------------------

export interface UpnpService {
  serviceType: string;
  serviceId: string;
  /** Absolute URL. */
  controlURL: string;
}

export interface DeviceDescription {
  deviceType: string;
  friendlyName: string;
  manufacturer: string;
  modelName: string;
  modelNumber: string;
  modelDescription: string;
  udn: string;
  /** The router's admin page, absolute, or null. */
  presentationURL: string | null;
  /** Every service of the root device and its embedded devices. */
  services: UpnpService[];
}

function absolute(url: string, base: string): string | null {
  try {
    const u = new URL(url, base);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.toString() : null;
  } catch {
    return null;
  }
}

/** The root device description (rootDesc.xml); `location` resolves relative URLs (URLBase is honoured). */
export function parseDeviceDescription(text: string, location: string): ParseResult<DeviceDescription> {
  const doc = parseXml(text);
  if (!doc.ok) return doc;
  const root = obj(doc.value.root);
  const device = obj(root?.device);
  if (!root || !device) return { ok: false, error: 'not a UPnP device description (no root/device)' };
  const base = str(root.URLBase) || location;
  const services: UpnpService[] = [];
  const walk = (d: Xml, depth: number) => {
    if (depth > 8) return;
    for (const s of list(obj(d.serviceList)?.service)) {
      const so = obj(s);
      const controlURL = so ? absolute(str(so.controlURL), base) : null;
      if (so && controlURL) services.push({ serviceType: str(so.serviceType), serviceId: str(so.serviceId), controlURL });
    }
    for (const sub of list(obj(d.deviceList)?.device)) {
      const so = obj(sub);
      if (so) walk(so, depth + 1);
    }
  };
  walk(device, 0);
  const presentation = str(device.presentationURL);
  return {
    ok: true,
    value: {
      deviceType: str(device.deviceType), friendlyName: str(device.friendlyName), manufacturer: str(device.manufacturer),
      modelName: str(device.modelName), modelNumber: str(device.modelNumber), modelDescription: str(device.modelDescription),
      udn: str(device.UDN), presentationURL: presentation ? absolute(presentation, base) : null, services,
    },
  };
}

/** The WAN connection service to use: WANIPConnection:2, else :1, else WANPPPConnection:1. */
export function pickWanService(desc: DeviceDescription): (UpnpService & { igdVersion: 1 | 2 }) | null {
  for (const type of WAN_SERVICE_TYPES) {
    const s = desc.services.find((x) => x.serviceType === type);
    if (s) return { ...s, igdVersion: type.endsWith('WANIPConnection:2') ? 2 : 1 };
  }
  return null;
}

// ---- SOAP ------------------------------------------------------------------

function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);
}

export interface SoapRequest {
  body: string;
  headers: Record<string, string>;
}

/** A SOAP 1.1 action call. Arguments keep their order (some gateways insist on the schema's order). */
export function encodeSoapRequest(serviceType: string, action: string, args: [string, string | number][]): SoapRequest {
  const inner = args.map(([k, v]) => `<${k}>${xmlEscape(String(v))}</${k}>`).join('');
  const body = '<?xml version="1.0"?>\r\n<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">'
    + `<s:Body><u:${action} xmlns:u="${xmlEscape(serviceType)}">${inner}</u:${action}></s:Body></s:Envelope>\r\n`;
  return {
    body,
    headers: { 'content-type': 'text/xml; charset="utf-8"', soapaction: `"${serviceType}#${action}"`, 'content-length': String(Buffer.byteLength(body)) },
  };
}

export type SoapResult =
  | { fault: null; values: Record<string, string> }
  | { fault: { code: number; description: string; text: string } };

/** A SOAP answer: the `<action>Response` values, or a fault with its UPnP error code. */
export function parseSoapResponse(text: string, action: string): ParseResult<SoapResult> {
  const doc = parseXml(text);
  if (!doc.ok) return doc;
  const body = obj(obj(doc.value.Envelope)?.Body);
  if (!body) return { ok: false, error: 'not a SOAP answer (no Envelope/Body)' };
  const fault = obj(body.Fault);
  if (fault) {
    const err = obj(obj(fault.detail)?.UPnPError);
    const raw = str(err?.errorCode);
    const code = /^\d{1,4}$/.test(raw) ? Number(raw) : 0;
    const description = str(err?.errorDescription).slice(0, 200) || str(fault.faultstring).slice(0, 200);
    if (!code) return { ok: true, value: { fault: { code: 0, description, text: `SOAP fault without a UPnP error code: ${description || 'no description'}` } } };
    return { ok: true, value: { fault: { code, description, text: upnpErrorText(code, description) } } };
  }
  const response = body[`${action}Response`];
  if (response === undefined) return { ok: false, error: `SOAP answer without ${action}Response` };
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(response) ?? {})) values[k] = str(v);
  return { ok: true, value: { fault: null, values } };
}

export interface PortMappingEntry {
  remoteHost: string;
  externalPort: number;
  protocol: 'TCP' | 'UDP';
  internalPort: number;
  internalClient: string;
  enabled: boolean;
  description: string;
  leaseSec: number;
}

const portOf = (s: string | undefined): number | null => (s && /^\d{1,5}$/.test(s) && Number(s) <= 65535 ? Number(s) : null);

/** GetGenericPortMappingEntry / GetSpecificPortMappingEntry values (the latter lacks the key fields, given in `key`). */
export function parsePortMappingEntry(v: Record<string, string>, key?: { externalPort: number; protocol: 'TCP' | 'UDP' }): ParseResult<PortMappingEntry> {
  const externalPort = key?.externalPort ?? portOf(v.NewExternalPort);
  const protocol = key?.protocol ?? (v.NewProtocol?.toUpperCase() === 'TCP' ? 'TCP' : v.NewProtocol?.toUpperCase() === 'UDP' ? 'UDP' : null);
  const internalPort = portOf(v.NewInternalPort);
  if (!externalPort || !protocol || !internalPort) return { ok: false, error: 'port mapping entry with a missing or bad port or protocol' };
  const lease = v.NewLeaseDuration ?? '0';
  return {
    ok: true,
    value: {
      remoteHost: v.NewRemoteHost ?? '', externalPort, protocol, internalPort, internalClient: v.NewInternalClient ?? '',
      enabled: v.NewEnabled === '1' || v.NewEnabled?.toLowerCase() === 'true',
      description: (v.NewPortMappingDescription ?? '').slice(0, 256), leaseSec: /^\d{1,10}$/.test(lease) ? Number(lease) : 0,
    },
  };
}
