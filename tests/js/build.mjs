// Bundles the UNMODIFIED npm `p2pcf` (from node_modules) together with the small page script
// `page/harness.js` into dist/ (gitignored): dist/index.html + dist/harness.js.
// Same esbuild settings as p2pcf's own `npm run build` (`--define:global=window`, ESM).
//
// Usage: `node build.mjs` (prints the output directory), or `import { build } from './build.mjs'`.
import * as esbuild from 'esbuild'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
export const distDir = join(here, 'dist')

const indexHtml = `<!doctype html>
<html><head><meta charset="utf-8"><title>p2pcf harness</title></head>
<body><script type="module" src="./harness.js"></script></body></html>
`

/** Builds dist/ and returns its path. */
export async function build () {
  await mkdir(distDir, { recursive: true })
  await esbuild.build({
    entryPoints: [join(here, 'page', 'harness.js')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    define: { global: 'window' },
    outfile: join(distDir, 'harness.js'),
    logLevel: 'warning'
  })
  await writeFile(join(distDir, 'index.html'), indexHtml)
  return distDir
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write((await build()) + '\n')
}
