import { describe, expect, it } from 'vitest'
import { parseNodeConfig } from '../../../src/node/index.ts'
import { generateSigningKey } from '../../../src/trust/index.ts'

const key = (await generateSigningKey()).publicKey.toString()
const valid = {
  dataDir: './data',
  bootstrap: [`/ip4/127.0.0.1/tcp/4001/p2p/${key}`],
  apps: { webshop: { vendorKeys: [key], installDir: './install', cluster: { name: 'php5-mysql' } } }
}

function configError (value: unknown): { path: string, message: string } {
  try {
    parseNodeConfig(JSON.stringify(value), '/etc/mirage/node.json')
  } catch (err) {
    expect((err as Error).name).toBe('ConfigError')
    return err as { path: string, message: string }
  }
  throw new Error('config accepted')
}

describe('node config', () => {
  it('fills defaults and resolves paths against the config file', () => {
    const config = parseNodeConfig(JSON.stringify(valid), '/etc/mirage/node.json')
    expect(config.dataDir).toBe('/etc/mirage/data')
    expect(config.listen).toEqual(['/ip4/127.0.0.1/tcp/0'])
    expect(config.apps.webshop?.installDir).toBe('/etc/mirage/install')
    expect(config.apps.webshop?.role).toBe('auto')
    expect(config.apps.webshop?.uploadBytesPerSecond).toBe(0)
    expect(config.maxConnections).toBe(300)
    expect(parseNodeConfig(JSON.stringify({ ...valid, maxConnections: 24 }), '/x.json').maxConnections).toBe(24)
  })

  it('names the field that is wrong', () => {
    expect(configError({ ...valid, dataDir: undefined }).path).toBe('dataDir')
    expect(configError({ ...valid, listen: ['not an address'] }).path).toBe('listen[0]')
    expect(configError({ ...valid, bootstrap: ['/ip4/127.0.0.1/tcp/1'] }).message).toContain('/p2p/')
    expect(configError({ ...valid, apps: { webshop: { ...valid.apps.webshop, vendorKeys: ['typo'] } } }).path).toBe('apps.webshop.vendorKeys[0]')
    expect(configError({ ...valid, apps: { webshop: { ...valid.apps.webshop, role: 'boss' } } }).path).toBe('apps.webshop.role')
    expect(configError({ ...valid, apps: { webshop: { ...valid.apps.webshop, cluster: { name: '../x' } } } }).path).toBe('apps.webshop.cluster.name')
    expect(configError({ ...valid, apps: { 'Web Shop': valid.apps.webshop } }).path).toBe('apps.Web Shop')
    expect(configError({ ...valid, colour: 'blue' }).message).toContain('"colour"')
    expect(configError({ ...valid, apps: { webshop: { ...valid.apps.webshop, uploadBytesPerSecond: -5 } } }).path).toBe('apps.webshop.uploadBytesPerSecond')
    expect(configError({ ...valid, maxConnections: 3 }).path).toBe('maxConnections')
    expect(configError({ ...valid, maxConnections: 10.5 }).path).toBe('maxConnections')
  })

  it('says when the file is not JSON', () => {
    expect(() => parseNodeConfig('{ dataDir: ', '/x.json')).toThrow(/not valid JSON/)
  })
})
