// Renders build/icons/icon.svg to the PNG sizes electron-builder wants (Linux
// uses the folder of sizes; Windows and macOS convert the 512 px one), with
// Debian's Chromium through playwright-core. Run once after changing the SVG:
//   node build/make-icons.mjs
import { chromium } from 'playwright-core';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('./icons/', import.meta.url));
const svg = await readFile(`${dir}icon.svg`, 'utf8');
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  for (const size of [16, 32, 48, 64, 128, 256, 512, 1024]) {
    const page = await browser.newPage({ viewport: { width: size, height: size } });
    await page.setContent(`<html><body style="margin:0;background:transparent">${svg.replace('<svg ', `<svg width="${size}" height="${size}" `)}</body></html>`);
    await page.screenshot({ path: `${dir}${size}x${size}.png`, omitBackground: true });
    await page.close();
  }
} finally {
  await browser.close();
}
