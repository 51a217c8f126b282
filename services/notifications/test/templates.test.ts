/** Template rendering and validation (pure: no infrastructure). */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { type TemplateChannels, templateChannelsOf } from '../src/repositories/templates.ts'
import { RenderError, renderChannel, smsMaxChars } from '../src/templates/render.ts'
import { validateTemplate } from '../src/templates/validate.ts'

const welcome: TemplateChannels = {
  email: {
    subject: 'Welcome, {{ name }}',
    html: '<p>Hello {{ name }}, welcome aboard.</p>',
    text: 'Hello {{ name }}, welcome aboard.',
  },
  sms: { text: 'Welcome, {{ name }}!' },
  push: { title: 'Welcome', body: 'Hello {{ name }}' },
  webhook: { text: 'welcome {{ name }}' },
}

function renderError(fn: () => unknown): RenderError {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof RenderError, `expected a RenderError, got ${String(err)}`)
    return err
  }
  assert.fail('expected a RenderError')
}

test('renders every channel of a template with its parts', () => {
  const data = { name: 'Ada' }
  assert.deepEqual(renderChannel(welcome, 'email', data), {
    channel: 'email',
    subject: 'Welcome, Ada',
    html: '<p>Hello Ada, welcome aboard.</p>',
    text: 'Hello Ada, welcome aboard.',
    body: '<p>Hello Ada, welcome aboard.</p>',
  })
  assert.deepEqual(renderChannel(welcome, 'sms', data), { channel: 'sms', body: 'Welcome, Ada!' })
  assert.deepEqual(renderChannel(welcome, 'push', data), {
    channel: 'push',
    title: 'Welcome',
    body: 'Hello Ada',
    subject: 'Welcome',
  })
  assert.deepEqual(renderChannel(welcome, 'webhook', data), {
    channel: 'webhook',
    text: 'welcome Ada',
    body: 'welcome Ada',
  })
})

test('<script> in data is escaped in email html and raw in SMS, push, webhook and email text', () => {
  const data = { name: '<script>alert("x")</script>' }
  const email = renderChannel(welcome, 'email', data)
  assert.equal(
    email.channel === 'email' && email.html,
    '<p>Hello &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;, welcome aboard.</p>',
  )
  assert.ok(email.channel === 'email' && email.text?.includes('<script>alert("x")</script>'))
  assert.equal(email.subject, 'Welcome, <script>alert("x")</script>')
  assert.equal(renderChannel(welcome, 'sms', data).body, 'Welcome, <script>alert("x")</script>!')
  assert.equal(renderChannel(welcome, 'push', data).body, 'Hello <script>alert("x")</script>')
  assert.equal(renderChannel(welcome, 'webhook', data).body, 'welcome <script>alert("x")</script>')
})

test('the html source itself is not escaped, only the values put into it', () => {
  const t: TemplateChannels = { email: { subject: 's', html: '<b>{{ a }}</b> & {{ b }}' } }
  const r = renderChannel(t, 'email', { a: 'x & y', b: "'q'" })
  assert.equal(r.channel === 'email' && r.html, '<b>x &amp; y</b> & &#39;q&#39;')
  assert.equal(r.channel === 'email' && r.text, undefined)
})

test('control characters are stripped from plain text; a subject or title stays one line', () => {
  const data = { name: 'A\u0000d\u001b[31ma\u007f\r\nBcc: evil@example.com\u0085' }
  const email = renderChannel(welcome, 'email', data)
  assert.equal(email.subject, 'Welcome, Ad[31ma Bcc: evil@example.com')
  assert.equal(renderChannel(welcome, 'sms', data).body, 'Welcome, Ad[31ma\nBcc: evil@example.com!')
  const push = renderChannel({ push: { title: '{{ name }}', body: 'x' } }, 'push', data)
  assert.equal(push.channel === 'push' && push.title, 'Ad[31ma Bcc: evil@example.com')
})

test('a missing variable is a RenderError naming it (the API answers body.data.<name>)', () => {
  const e = renderError(() => renderChannel(welcome, 'sms', {}))
  assert.equal(e.reason, 'missing_variable')
  assert.equal(e.variable, 'name')
  assert.equal(e.field, 'body.data.name')
  assert.equal(e.channel, 'sms')
  const nested = renderError(() =>
    renderChannel({ sms: { text: 'Hi {{ user.first }}' } }, 'sms', { user: { last: 'L' } }),
  )
  assert.equal(nested.variable, 'user.first')
  assert.equal(nested.field, 'body.data.user.first')
  const inFilter = renderError(() => renderChannel({ sms: { text: '{{ "a" | append: b }}' } }, 'sms', {}))
  assert.equal(inFilter.variable, 'b')
})

test('a null, an object or an array printed is a RenderError naming it, never "[object Object]" or a blank', () => {
  const t: TemplateChannels = {
    sms: { text: 'Your code is {{ code }}.' },
    email: { subject: 's', html: '<b>{{ code }}</b>' },
  }
  for (const [code, kind] of [
    [null, 'null'],
    [{ a: 1 }, 'an object'],
    [['1', '2'], 'an array'],
  ] as const) {
    for (const channel of ['sms', 'email'] as const) {
      const e = renderError(() => renderChannel(t, channel, { code }))
      assert.equal(e.reason, 'unprintable_variable', `${channel} ${kind}`)
      assert.equal(e.field, 'body.data.code')
      assert.match(e.message, new RegExp(`data.code is ${kind}`))
    }
  }
  const nested = renderError(() =>
    renderChannel({ sms: { text: '{{- user.name -}}' } }, 'sms', { user: { name: null } }),
  )
  assert.equal(nested.field, 'body.data.user.name')
  // Not a plain variable: the error still says what is wrong, blaming the data as a whole.
  const computed = renderError(() => renderChannel({ sms: { text: '{{ "a" | split: "," }}' } }, 'sms', {}))
  assert.equal(computed.reason, 'unprintable_variable')
  assert.equal(computed.field, 'body.data')
  // Printable values, a null behind default, and the escape of html outputs are unchanged.
  assert.equal(renderChannel(t, 'sms', { code: 0 }).body, 'Your code is 0.')
  assert.equal(renderChannel(t, 'sms', { code: false }).body, 'Your code is false.')
  const email = renderChannel({ email: { subject: 's', html: '<b>{{ code | upcase }}</b>' } }, 'email', {
    code: '<i>',
  })
  assert.equal(email.channel === 'email' && email.html, '<b>&lt;I&gt;</b>')
  assert.equal(renderChannel({ sms: { text: '{{ c | default: "none" }}' } }, 'sms', { c: null }).body, 'none')
})

test('optional variables stay expressible with if and default', () => {
  const t: TemplateChannels = {
    sms: { text: '{% if coupon %}Code {{ coupon }}. {% endif %}Hi {{ who | default: "there" }}' },
  }
  assert.equal(renderChannel(t, 'sms', {}).body, 'Hi there')
  assert.equal(renderChannel(t, 'sms', { coupon: 'C1', who: 'Bo' }).body, 'Code C1. Hi Bo')
})

test('a channel the template lacks is a RenderError blaming body.channels', () => {
  const e = renderError(() => renderChannel({ sms: { text: 'x' } }, 'push', {}))
  assert.equal(e.reason, 'channel_not_in_template')
  assert.equal(e.field, 'body.channels')
})

test('an SMS longer than 1600 characters is an error, not a silent cut; 1600 passes', () => {
  const t: TemplateChannels = { sms: { text: '{{ s }}' } }
  assert.equal(renderChannel(t, 'sms', { s: 'é'.repeat(smsMaxChars) }).body.length, smsMaxChars)
  const e = renderError(() => renderChannel(t, 'sms', { s: 'x'.repeat(smsMaxChars + 1) }))
  assert.equal(e.reason, 'too_long')
})

test('Liquid cannot read prototype properties of the data', () => {
  for (const expr of [
    'name.constructor',
    'o.toString',
    'o.__proto__',
    'o.constructor.name',
    'o.hasOwnProperty',
  ]) {
    const e = renderError(() =>
      renderChannel({ sms: { text: `{{ ${expr} }}` } }, 'sms', { name: 'x', o: {} }),
    )
    assert.equal(e.reason, 'missing_variable', expr)
  }
  // An inherited property of a class instance is hidden as well; its own property is not.
  class Secretive {
    own = 'visible'
    get secret() {
      return 'hidden'
    }
  }
  const data = { o: new Secretive() }
  assert.equal(renderChannel({ sms: { text: '{{ o.own }}' } }, 'sms', data).body, 'visible')
  assert.equal(
    renderError(() => renderChannel({ sms: { text: '{{ o.secret }}' } }, 'sms', data)).reason,
    'missing_variable',
  )
})

test('Liquid cannot read the file system: include, render and layout are refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ntf-tpl-'))
  try {
    const file = join(dir, 'secret.liquid')
    writeFileSync(file, 'TOP SECRET')
    for (const tag of ['include', 'render', 'layout']) {
      const source = `{% ${tag} "${file}" %}`
      const errors = validateTemplate({ sms: { text: source } })
      assert.equal(errors.length, 1, tag)
      assert.equal(errors[0]?.field, 'body.channels.sms.text')
      assert.match(errors[0]?.message ?? '', new RegExp(`${tag} tag is not available`))
      const e = renderError(() => renderChannel({ sms: { text: source } }, 'sms', {}))
      assert.equal(e.reason, 'invalid_template')
      assert.doesNotMatch(e.message, /TOP SECRET/)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a hostile loop hits the memory limit instead of pinning the process', () => {
  const t: TemplateChannels = { webhook: { text: '{% for i in (1..100000000) %}{{ i }}{% endfor %}' } }
  assert.equal(renderError(() => renderChannel(t, 'webhook', {})).reason, 'render_failed')
})

test('validateTemplate accepts the built-ins and names every problem by field', () => {
  assert.deepEqual(validateTemplate(welcome), [])
  assert.deepEqual(validateTemplate({ email: { subject: 's', html: 'h' } }), [])
  const errors = validateTemplate({
    email: { subject: 'Hi {{ name', html: '<p>{{ x | nosuchfilter }}</p>', extra: 'x' },
    sms: {},
    push: { title: 7, body: 'b' },
    fax: { text: 'x' },
  })
  const fields = errors.map((e) => e.field).sort()
  assert.deepEqual(fields, [
    'body.channels.email.extra',
    'body.channels.email.html',
    'body.channels.email.subject',
    'body.channels.fax',
    'body.channels.push.title',
    'body.channels.sms.text',
  ])
  assert.match(errors.find((e) => e.field === 'body.channels.email.html')?.message ?? '', /nosuchfilter/)
  assert.match(errors.find((e) => e.field === 'body.channels.sms.text')?.message ?? '', /required/)
})

test('validateTemplate refuses a non-object, an empty object and an oversized source', () => {
  assert.equal(validateTemplate(null)[0]?.field, 'body.channels')
  assert.equal(validateTemplate([])[0]?.field, 'body.channels')
  assert.equal(validateTemplate({})[0]?.field, 'body.channels')
  assert.equal(validateTemplate({ sms: 'x' })[0]?.field, 'body.channels.sms')
  const big = validateTemplate({ sms: { text: 'x'.repeat(20_001) } })
  assert.equal(big[0]?.field, 'body.channels.sms.text')
})

test('templateChannelsOf lists the defined channels in canonical order', () => {
  assert.deepEqual(templateChannelsOf(welcome), ['email', 'sms', 'push', 'webhook'])
  assert.deepEqual(templateChannelsOf({ channels: { webhook: { text: 'x' }, sms: { text: 'y' } } }), [
    'sms',
    'webhook',
  ])
})
