// Builds the renderer (React) into renderer/dist with relative asset paths, so
// the same build loads from the Electron app's protocol and from the headless
// host's tokened URL (/t/TOKEN/). JSX goes through esbuild's automatic runtime
// (no @vitejs/plugin-react needed).
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('./renderer', import.meta.url)),
  base: './',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    // Inline nothing: the CSP allows only 'self' scripts, styles and images.
    assetsInlineLimit: 0,
  },
});
