/**
 * The port mapper's small JSON record in the data directory (`portmap.json`):
 * the mappings it holds right now, with what it takes to remove them (gateway,
 * protocol, ports, PCP nonce, UPnP control URL). Written after every change, so
 * that after a crash the next start can remove what the last run left behind.
 * A missing or damaged record reads as empty.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';

export const RECORD_FILE = 'portmap.json';

const RecordedSchema = z.object({
  protocol: z.enum(['upnp', 'natpmp', 'pcp']),
  proto: z.enum(['tcp', 'udp']),
  internalPort: z.number().int().min(1).max(65535),
  externalPort: z.number().int().min(1).max(65535),
  internalClient: z.string().max(64),
  gateway: z.string().max(64),
  description: z.string().max(256),
  nonce: z.string().regex(/^[0-9a-f]{24}$/).optional(),
  controlURL: z.string().max(2048).optional(),
  serviceType: z.string().max(256).optional(),
  permanent: z.boolean().optional(),
  expiresAt: z.number().nullable().optional(),
});
export type RecordedMapping = z.infer<typeof RecordedSchema>;

const FileSchema = z.object({ version: z.literal(1), mappings: z.array(RecordedSchema).max(64) });

export async function readRecord(dataDir: string): Promise<RecordedMapping[]> {
  try {
    const parsed = FileSchema.safeParse(JSON.parse(await readFile(join(dataDir, RECORD_FILE), 'utf8')));
    return parsed.success ? parsed.data.mappings : [];
  } catch {
    return [];
  }
}

export async function writeRecord(dataDir: string, mappings: RecordedMapping[]): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const file = join(dataDir, RECORD_FILE);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ version: 1, mappings }, null, 1)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}
