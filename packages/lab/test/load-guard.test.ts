/**
 * The guard every k6 script runs under (loadtests/lib/env.js): load goes to loopback, or to a host
 * docker-compose.yml names in LOAD_ALLOWED_HOSTS, and nowhere else. The library is plain k6
 * JavaScript that reads the global __ENV, so the test provides one.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'

const env: Record<string, string> = {}
;(globalThis as { __ENV?: Record<string, string> }).__ENV = env
const envModule = new URL('../../../loadtests/lib/env.js', import.meta.url).href
const { assertLoopback, baseUrl } = (await import(envModule)) as {
  assertLoopback: (url: string) => string
  baseUrl: (fallback?: string) => string
}

test('loopback targets pass, in every spelling', () => {
  for (const url of [
    'http://127.0.0.1:3000',
    'http://127.8.9.10/x',
    'https://localhost',
    'http://[::1]:80/',
  ]) {
    assert.equal(assertLoopback(url), url)
  }
})

test('anything else is refused, including look-alikes', () => {
  for (const url of [
    'http://10.0.0.1:3000',
    'http://example.com',
    'http://127.0.0.1.example.com/',
    'http://localhost.evil/',
    'ftp://127.0.0.1/',
    'not a url',
  ]) {
    assert.throws(() => assertLoopback(url), /refusing to send load/, url)
  }
})

test('LOAD_ALLOWED_HOSTS admits exactly the hosts it names', () => {
  env.LOAD_ALLOWED_HOSTS = 'shortener-api, other-api'
  try {
    assert.equal(assertLoopback('http://shortener-api:3000'), 'http://shortener-api:3000')
    assert.equal(assertLoopback('http://OTHER-API/'), 'http://OTHER-API/')
    assert.throws(() => assertLoopback('http://shortener-api.example.com'), /refusing/)
    assert.throws(() => assertLoopback('http://10.0.0.1'), /refusing/)
  } finally {
    delete env.LOAD_ALLOWED_HOSTS
  }
  assert.throws(() => assertLoopback('http://shortener-api:3000'), /refusing/)
})

test('baseUrl reads BASE_URL, checks it and drops trailing slashes', () => {
  assert.equal(baseUrl('http://127.0.0.1:3000/'), 'http://127.0.0.1:3000')
  env.BASE_URL = 'http://192.168.1.5:3000'
  try {
    assert.throws(() => baseUrl('http://127.0.0.1:3000'), /refusing/)
  } finally {
    delete env.BASE_URL
  }
})
