// Module hooks: `import … from 'electron'` resolves to electron-stub.ts (shell.test.ts).
const stub = new URL('./electron-stub.ts', import.meta.url).href;
export async function resolve(specifier, context, next) {
  if (specifier === 'electron') return { url: stub, shortCircuit: true };
  return next(specifier, context);
}
