/**
 * UPnP IGD codec (upnp.ts): SSDP answers, device descriptions and SOAP answers
 * captured from miniupnpd 2.3.1 in the lab as IGD v2 and (force_igd_desc_v1) v1
 * (main/engine/portmap/fixtures/), request text, and hostile input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  encodeMSearch, encodeSoapRequest, MAX_XML_BYTES, parseDeviceDescription, parsePortMappingEntry, parseSoapResponse,
  parseSsdpResponse, parseXml, pickWanService, upnpErrorText,
} from './upnp.js';

const fx = (name: string) => readFileSync(new URL(`../engine/portmap/fixtures/${name}`, import.meta.url), 'utf8');
const LOCATION = 'http://192.168.0.1:5000/rootDesc.xml';

test('M-SEARCH', () => {
  assert.equal(encodeMSearch('urn:schemas-upnp-org:device:InternetGatewayDevice:1').toString(),
    'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n');
});

test('miniupnpd SSDP answers (IGD v1 and v2)', () => {
  for (const [f, v] of [['ssdp-igd1.txt', 1], ['ssdp-igd2.txt', 2]] as const) {
    const r = parseSsdpResponse(Buffer.from(fx(f)));
    assert.ok(r.ok, f);
    assert.equal(r.value.location, LOCATION);
    assert.equal(r.value.st, `urn:schemas-upnp-org:device:InternetGatewayDevice:${v}`);
    assert.match(r.value.server, /MiniUPnPd\/2\.3\.1/);
  }
  const lower = parseSsdpResponse('HTTP/1.1 200 OK\nlocation: http://10.0.0.1/x.xml\nst: upnp:rootdevice\n\n');
  assert.ok(lower.ok && lower.value.location === 'http://10.0.0.1/x.xml');
});

test('SSDP hostile answers', () => {
  const cases: [string, RegExp][] = [
    ['', /not an SSDP answer/],
    ['M-SEARCH * HTTP/1.1\r\n\r\n', /not an SSDP answer/],
    ['HTTP/1.1 404 Not Found\r\nLOCATION: http://a/\r\n\r\n', /not an SSDP answer/],
    ['HTTP/1.1 200 OK\r\nST: x\r\n\r\n', /without LOCATION/],
    ['HTTP/1.1 200 OK\r\nLOCATION: ::::\r\n\r\n', /not a URL/],
    ['HTTP/1.1 200 OK\r\nLOCATION: file:///etc/passwd\r\n\r\n', /not http/],
    [`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(9000)}\r\n\r\n`, /exceeds/],
  ];
  for (const [t, re] of cases) {
    const r = parseSsdpResponse(t);
    assert.equal(r.ok, false, t.slice(0, 30));
    if (!r.ok) assert.match(r.error, re);
  }
});

test('miniupnpd device descriptions: router facts and the WAN service', () => {
  const v2 = parseDeviceDescription(fx('rootDesc-igd2.xml'), LOCATION);
  assert.ok(v2.ok);
  assert.equal(v2.value.deviceType, 'urn:schemas-upnp-org:device:InternetGatewayDevice:2');
  assert.equal(v2.value.friendlyName, 'Postern lab router');
  assert.equal(v2.value.manufacturer, 'Debian');
  assert.equal(v2.value.modelName, 'Debian router');
  assert.equal(v2.value.modelNumber, '1');
  assert.equal(v2.value.presentationURL, 'http://192.168.0.1/');
  const s2 = pickWanService(v2.value);
  assert.deepEqual(s2, { serviceType: 'urn:schemas-upnp-org:service:WANIPConnection:2', serviceId: 'urn:upnp-org:serviceId:WANIPConn1', controlURL: 'http://192.168.0.1:5000/ctl/IPConn', igdVersion: 2 });
  const v1 = parseDeviceDescription(fx('rootDesc-igd1.xml'), LOCATION);
  assert.ok(v1.ok);
  assert.equal(pickWanService(v1.value)?.serviceType, 'urn:schemas-upnp-org:service:WANIPConnection:1');
  assert.equal(pickWanService(v1.value)?.igdVersion, 1);
});

test('a PPP-only router and one with URLBase', () => {
  const xml = `<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><URLBase>http://10.0.0.138:49000/</URLBase><device>
    <deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType><friendlyName>FRITZ!Box &amp; Co</friendlyName>
    <deviceList><device><deviceList><device><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType>
    <serviceId>urn:upnp-org:serviceId:WANPPPConn1</serviceId><controlURL>/igdupnp/control/WANPPPConn1</controlURL></service></serviceList>
    </device></deviceList></device></deviceList></device></root>`;
  const d = parseDeviceDescription(xml, 'http://10.0.0.138:49000/igddesc.xml');
  assert.ok(d.ok);
  assert.equal(d.value.friendlyName, 'FRITZ!Box & Co');
  assert.equal(d.value.presentationURL, null);
  assert.equal(pickWanService(d.value)?.controlURL, 'http://10.0.0.138:49000/igdupnp/control/WANPPPConn1');
  const none = parseDeviceDescription('<root><device><deviceType>x</deviceType></device></root>', LOCATION);
  assert.ok(none.ok && pickWanService(none.value) === null);
});

test('SOAP request: escaped arguments, headers', () => {
  const r = encodeSoapRequest('urn:schemas-upnp-org:service:WANIPConnection:1', 'AddPortMapping', [['NewPortMappingDescription', 'Postern <A&B>'], ['NewExternalPort', 4000]]);
  assert.match(r.body, /<u:AddPortMapping xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1"><NewPortMappingDescription>Postern &lt;A&amp;B&gt;<\/NewPortMappingDescription><NewExternalPort>4000<\/NewExternalPort><\/u:AddPortMapping>/);
  assert.equal(r.headers.soapaction, '"urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping"');
  assert.equal(r.headers['content-length'], String(Buffer.byteLength(r.body)));
  const parsed = parseXml(r.body);
  assert.ok(parsed.ok);
});

test('miniupnpd SOAP answers', () => {
  const ext = parseSoapResponse(fx('soap-v2-get-external-ip.xml'), 'GetExternalIPAddress');
  assert.deepEqual(ext, { ok: true, value: { fault: null, values: { NewExternalIPAddress: '80.16.0.2' } } });
  const ext1 = parseSoapResponse(fx('soap-v1-get-external-ip.xml'), 'GetExternalIPAddress');
  assert.ok(ext1.ok && !ext1.value.fault && ext1.value.values.NewExternalIPAddress === '80.16.0.2');
  const cg = parseSoapResponse(fx('soap-cgnat-get-external-ip.xml'), 'GetExternalIPAddress');
  assert.ok(cg.ok && !cg.value.fault && cg.value.values.NewExternalIPAddress === '');
  for (const f of ['soap-v2-add-port-mapping.xml', 'soap-v1-add-port-mapping.xml']) {
    const a = parseSoapResponse(fx(f), 'AddPortMapping');
    assert.deepEqual(a, { ok: true, value: { fault: null, values: {} } }, f);
  }
  const any = parseSoapResponse(fx('soap-v2-add-any-port-mapping.xml'), 'AddAnyPortMapping');
  assert.ok(any.ok && !any.value.fault && any.value.values.NewReservedPort === '43000');
  const del = parseSoapResponse(fx('soap-v2-delete-port-mapping.xml'), 'DeletePortMapping');
  assert.ok(del.ok && !del.value.fault);
  const gen = parseSoapResponse(fx('soap-v2-get-generic-entry.xml'), 'GetGenericPortMappingEntry');
  assert.ok(gen.ok && !gen.value.fault);
  assert.deepEqual(parsePortMappingEntry(gen.value.values), { ok: true, value: {
    remoteHost: '', externalPort: 43010, protocol: 'TCP', internalPort: 43010, internalClient: '192.168.0.101', enabled: true, description: 'Postern TEST', leaseSec: 604800,
  } });
  const spec = parseSoapResponse(fx('soap-v2-get-specific-entry.xml'), 'GetSpecificPortMappingEntry');
  assert.ok(spec.ok && !spec.value.fault);
  const e = parsePortMappingEntry(spec.value.values, { externalPort: 43000, protocol: 'TCP' });
  assert.ok(e.ok && e.value.internalPort === 43005 && e.value.leaseSec === 3600);
});

test('miniupnpd SOAP faults carry their code and meaning', () => {
  const cases: [string, number, RegExp][] = [
    ['soap-v2-fault-718.xml', 718, /^UPnP 718 ConflictInMappingEntry: .*another device/],
    ['soap-v1-fault-718.xml', 718, /ConflictInMappingEntry/],
    ['soap-v2-fault-606.xml', 606, /^UPnP 606 Action not authorized/],
    ['soap-v2-fault-713.xml', 713, /SpecifiedArrayIndexInvalid/],
    ['soap-v2-fault-402.xml', 402, /Invalid Args/],
    ['soap-v2-fault-401.xml', 401, /Invalid Action/],
    ['soap-cgnat-fault-501.xml', 501, /^UPnP 501 Action Failed: .*behind NAT/],
  ];
  for (const [f, code, re] of cases) {
    const r = parseSoapResponse(fx(f), 'AddPortMapping');
    assert.ok(r.ok && r.value.fault, f);
    assert.equal(r.value.fault.code, code);
    assert.match(r.value.fault.text, re);
  }
  assert.match(upnpErrorText(725), /725 OnlyPermanentLeasesSupported/);
  assert.match(upnpErrorText(999, 'Weird'), /999 Weird/);
});

test('hostile XML and SOAP: clear errors, never a crash', () => {
  const cases: [string, RegExp][] = [
    ['', /empty|bad XML/],
    ['<a><b></a>', /bad XML at line 1/],
    ['not xml', /bad XML|empty/],
    ['<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', /DOCTYPE/],
    [`<x>${'a'.repeat(MAX_XML_BYTES)}</x>`, /exceeds 65536/],
    ['<Envelope><Nobody/></Envelope>', /no Envelope\/Body/],
    ['<s:Envelope xmlns:s="x"><s:Body><u:OtherResponse/></s:Body></s:Envelope>', /without AddPortMappingResponse/],
  ];
  for (const [t, re] of cases) {
    const r = parseSoapResponse(t, 'AddPortMapping');
    assert.equal(r.ok, false, t.slice(0, 40));
    if (!r.ok) assert.match(r.error, re, t.slice(0, 40));
  }
  const noCode = parseSoapResponse('<s:Envelope xmlns:s="x"><s:Body><s:Fault><faultstring>Boom</faultstring></s:Fault></s:Body></s:Envelope>', 'X');
  assert.ok(noCode.ok && noCode.value.fault && noCode.value.fault.code === 0);
  assert.match(noCode.ok && noCode.value.fault ? noCode.value.fault.text : '', /without a UPnP error code: Boom/);
  const badDesc = parseDeviceDescription('<html><body>router login</body></html>', LOCATION);
  assert.equal(badDesc.ok, false);
  const badUrls = parseDeviceDescription('<root><device><presentationURL>javascript:alert(1)</presentationURL><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>file:///x</controlURL></service></serviceList></device></root>', LOCATION);
  assert.ok(badUrls.ok && badUrls.value.presentationURL === null && badUrls.value.services.length === 0);
  const deep = '<root><device>' + '<deviceList><device>'.repeat(50) + '</device></deviceList>'.repeat(50) + '</device></root>';
  const d = parseDeviceDescription(deep, LOCATION);
  assert.ok(!d.ok && /nested/.test(d.error));
  assert.equal(parsePortMappingEntry({ NewExternalPort: '99999', NewProtocol: 'TCP', NewInternalPort: '1' }).ok, false);
  assert.equal(parsePortMappingEntry({ NewExternalPort: '1', NewProtocol: 'SCTP', NewInternalPort: '1' }).ok, false);
  for (let i = 0; i < 500; i++) {
    const junk = Array.from({ length: Math.floor(Math.random() * 200) }, () => '<>/&;"\' abcs:Envelope'[Math.floor(Math.random() * 22)]).join('');
    parseSoapResponse(junk, 'X');
    parseDeviceDescription(junk, LOCATION);
    parseSsdpResponse(junk);
  }
});
