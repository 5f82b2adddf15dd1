import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { computeClusterId } from '../../../src/env/index.ts'
import { CLUSTER_NAME_PATTERN } from '../../../src/release/index.ts'

let dir: string
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'mirage-env-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

describe('cluster id', () => {
  it('is the explicit name when there is one', async () => {
    expect(await computeClusterId('webshop', { name: 'php5-mysql', files: [join(dir, 'x')] })).toBe('php5-mysql')
  })

  it('is the same for identical environments and differs when a resource differs', async () => {
    const ini = join(dir, 'php.ini')
    await writeFile(ini, 'memory_limit = 128M\n')
    const spec = { files: [ini], env: ['LANG'] }
    const a = await computeClusterId('webshop', spec, { LANG: 'C' })
    expect(a).toMatch(CLUSTER_NAME_PATTERN)
    expect(a).toMatch(/^env-[a-z2-7]{26}$/)
    expect(await computeClusterId('webshop', { files: [ini], env: ['LANG'] }, { LANG: 'C', OTHER: 'x' })).toBe(a)
    expect(await computeClusterId('webshop', spec, { LANG: 'de_DE' })).not.toBe(a)
    expect(await computeClusterId('blog', spec, { LANG: 'C' })).not.toBe(a)
    await writeFile(ini, 'memory_limit = 256M\n')
    expect(await computeClusterId('webshop', spec, { LANG: 'C' })).not.toBe(a)
  })

  it('treats a missing file and an unset variable as facts, not errors', async () => {
    const missing = await computeClusterId('webshop', { files: [join(dir, 'absent.ini')], env: ['UNSET_VAR'] }, {})
    await writeFile(join(dir, 'absent.ini'), '')
    expect(await computeClusterId('webshop', { files: [join(dir, 'absent.ini')], env: ['UNSET_VAR'] }, {})).not.toBe(missing)
    expect(await computeClusterId('webshop', { files: [join(dir, 'absent.ini')], env: ['UNSET_VAR'] }, { UNSET_VAR: '' })).not.toBe(missing)
  })

  it('does not depend on the order resources are listed in', async () => {
    await writeFile(join(dir, 'a'), '1')
    await writeFile(join(dir, 'b'), '2')
    expect(await computeClusterId('w', { files: [join(dir, 'a'), join(dir, 'b')] })).toBe(await computeClusterId('w', { files: [join(dir, 'b'), join(dir, 'a')] }))
  })
})
