import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { createMailer, type Mailer } from '../../src/mail/index.js';

interface Received {
  readonly from: string;
  readonly to: string[];
  readonly user: string | undefined;
  readonly raw: string;
}

/** Splits a received MIME message into its decoded text/plain and text/html parts and its headers. */
function parse(raw: string): { headers: string; text: string; html: string } {
  const [headers = '', ...rest] = raw.split('\r\n\r\n');
  const body = rest.join('\r\n\r\n');
  const boundary = /boundary="?([^";\r\n]+)"?/i.exec(headers)?.[1];
  assert.ok(boundary, 'a multipart message');
  const parts: Record<string, string> = {};
  for (const part of body.split(`--${boundary}`)) {
    const [partHeaders = '', ...partBody] = part.split('\r\n\r\n');
    const type = /content-type:\s*([^;\r\n]+)/i.exec(partHeaders)?.[1]?.trim();
    if (type === undefined) continue;
    const encoding = /content-transfer-encoding:\s*(\S+)/i.exec(partHeaders)?.[1]?.toLowerCase();
    let content = partBody.join('\r\n\r\n').replace(/\r\n$/, '');
    if (encoding === 'quoted-printable') {
      content = Buffer.from(content.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8');
    } else if (encoding === 'base64') {
      content = Buffer.from(content, 'base64').toString('utf8');
    }
    parts[type] = content.replace(/\r\n/g, '\n');
  }
  return { headers, text: parts['text/plain'] ?? '', html: parts['text/html'] ?? '' };
}

describe('mail through a real SMTP server on loopback', () => {
  let server: SMTPServer;
  let port: number;
  let mailer: Mailer;
  const received: Received[] = [];
  const password = 'Xq7-rT2v_Lm9pW4z-Kc8';
  const knownHosts = '[203.0.113.7]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3x4Wq2vB7nY5kLmP0sQ8rT1uV6wX9zA2bC4dE6fG8h';
  const certAuthority = '@cert-authority * ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC56jf/OZUNxmNcL5zXqAVReOY7nJgAZOq0USLEw57zh lifeboat-host-ca';
  const fingerprint = 'ssh-ed25519 SHA256:Nf0e3y2T9jKqL8mW5pR1sV4xZ7aB0cD3eF6gH9iJ2kL';

  before(async () => {
    server = new SMTPServer({
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      authMethods: ['PLAIN', 'LOGIN'],
      logger: false,
      onAuth(auth, _session, callback) {
        if (auth.username === 'lifeboat' && auth.password === 'smtp p@ss') return callback(null, { user: auth.username });
        callback(new Error('535 bad credentials'));
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          received.push({
            from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
            to: session.envelope.rcptTo.map((r) => r.address),
            user: typeof session.user === 'string' ? session.user : undefined,
            raw: Buffer.concat(chunks).toString('utf8'),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.server.address() as AddressInfo).port;
    mailer = createMailer({ smtpUrl: `smtp://lifeboat:${encodeURIComponent('smtp p@ss')}@127.0.0.1:${port}`, from: 'Lifeboat <lifeboat@example.test>' });
  });
  after(async () => {
    mailer?.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('mails the rescue credentials: address, user, password, fingerprints, known_hosts line, expiry, exit', async () => {
    const expiresAt = new Date('2026-11-24T06:30:00Z');
    const sent = await mailer.sendRescueCredentials({
      to: 'ops@customer.test',
      server: 'web1',
      address: { host: '203.0.113.7', port: 2222 },
      user: 'root',
      password,
      hostKeyFingerprints: [fingerprint],
      knownHosts: [knownHosts],
      certAuthority,
      expiresAt,
      exitCommand: 'lifeboat rescue exit web1',
    });
    assert.match(sent.messageId, /@/);
    const mail = received.at(-1);
    assert.ok(mail);
    assert.equal(mail.from, 'lifeboat@example.test');
    assert.deepEqual(mail.to, ['ops@customer.test']);
    assert.equal(mail.user, 'lifeboat', 'the transport authenticated');
    const { headers, text, html } = parse(mail.raw);
    assert.match(headers, /^Subject: Rescue system of web1 is ready$/m);
    for (const body of [text, html]) {
      assert.ok(body.includes('ssh -p 2222 root@203.0.113.7'), body);
      assert.ok(body.includes(`Password: ${password}`));
      assert.ok(body.includes(fingerprint));
      assert.ok(body.includes(knownHosts), 'the known_hosts line, unbroken');
      assert.ok(body.includes(certAuthority), 'the host CA line, unbroken');
      assert.ok(body.includes('2026-11-24 06:30 UTC'));
      assert.ok(body.includes('lifeboat rescue exit web1'));
    }
    assert.match(html, /^<!doctype html>/);
  });

  it('says that no password exists when the customer gave SSH keys', async () => {
    await mailer.sendRescueCredentials({
      to: 'ops@customer.test',
      server: 'db<2>',
      address: { host: 'rescue.example.test', port: 22 },
      user: 'root',
      hostKeyFingerprints: [fingerprint],
      knownHosts: [knownHosts],
      expiresAt: new Date('2026-11-24T06:30:00Z'),
      exitCommand: 'lifeboat rescue exit db2',
    });
    const { text, html } = parse(received.at(-1)!.raw);
    assert.ok(text.includes('with your SSH key (no password exists'));
    assert.ok(text.includes('ssh root@rescue.example.test'));
    assert.doesNotMatch(text, /Password:/);
    assert.ok(html.includes('db&lt;2&gt;'), 'HTML is escaped');
  });

  it('mails an expiry warning', async () => {
    await mailer.sendExpiryWarning({
      to: 'ops@customer.test',
      server: 'web1',
      expiresAt: new Date('2026-11-24T06:30:00Z'),
      exitCommand: 'lifeboat rescue exit web1',
      extendCommand: 'lifeboat rescue extend web1 --expires-in 4h',
    });
    const { headers, text } = parse(received.at(-1)!.raw);
    assert.match(headers, /^Subject: Rescue of web1 ends at 2026-11-24 06:30 UTC$/m);
    assert.ok(text.includes('lifeboat rescue extend web1 --expires-in 4h'));
    assert.ok(text.includes('lifeboat rescue exit web1'));
  });

  it('fails with MAIL_FAILED, without SMTP credentials or the password, when the server refuses', async () => {
    const wrong = createMailer({ smtpUrl: `smtp://lifeboat:wrong-smtp-secret@127.0.0.1:${port}`, from: 'lifeboat@example.test' });
    try {
      await assert.rejects(
        wrong.sendRescueCredentials({
          to: 'ops@customer.test', server: 'web1', address: { host: 'h', port: 22 }, user: 'root', password,
          hostKeyFingerprints: [], knownHosts: [], expiresAt: new Date(), exitCommand: 'x',
        }),
        (error: Error & { code?: string }) => {
          assert.equal(error.code, 'MAIL_FAILED');
          assert.ok(!error.message.includes('wrong-smtp-secret'));
          assert.ok(!error.message.includes(password));
          return true;
        },
      );
    } finally {
      wrong.close();
    }
    assert.throws(() => createMailer({ smtpUrl: 'http://x', from: 'a@b' }), { code: 'CONFIG_INVALID' });
  });
});
