/**
 * Contacts: devices this one has paired with, pinned by public key (peer ID).
 * Kept as JSON in the data directory, written atomically.
 */
import { readFile, writeFile, rename, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConnectedTier } from '../../shared/domain/connection.js';

export interface Contact {
  peerId: string;
  name: string;
  pairedAt: number;
  lastSeenAt: number | null;
  lastTier: ConnectedTier | null;
  /** How the pairing was confirmed. */
  pairedBy: 'code' | 'nearby';
}

export class ContactBook {
  private contacts = new Map<string, Contact>();
  private writing: Promise<void> = Promise.resolve();

  private constructor(private readonly file: string) {}

  static async open(dataDir: string): Promise<ContactBook> {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const book = new ContactBook(join(dataDir, 'contacts.json'));
    try {
      const list = JSON.parse(await readFile(book.file, 'utf8')) as Contact[];
      for (const c of list) if (typeof c?.peerId === 'string') book.contacts.set(c.peerId, c);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw Object.assign(new Error(`The contacts file ${book.file} could not be read (${(err as Error).message}). Fix or move it away; paired devices will need to pair again.`), { code: 'CONTACTS_DAMAGED' });
      }
    }
    return book;
  }

  get(peerId: string): Contact | undefined {
    return this.contacts.get(peerId);
  }

  has(peerId: string): boolean {
    return this.contacts.has(peerId);
  }

  list(): Contact[] {
    return [...this.contacts.values()];
  }

  async add(contact: Contact): Promise<void> {
    this.contacts.set(contact.peerId, contact);
    await this.save();
  }

  async update(peerId: string, patch: Partial<Omit<Contact, 'peerId'>>): Promise<void> {
    const c = this.contacts.get(peerId);
    if (!c) return;
    this.contacts.set(peerId, { ...c, ...patch });
    await this.save();
  }

  async remove(peerId: string): Promise<void> {
    this.contacts.delete(peerId);
    await this.save();
  }

  private save(): Promise<void> {
    const data = JSON.stringify(this.list(), null, 2);
    this.writing = this.writing.then(async () => {
      const tmp = `${this.file}.${process.pid}.tmp`;
      await writeFile(tmp, data, { mode: 0o600 });
      await rename(tmp, this.file);
    });
    return this.writing;
  }
}
