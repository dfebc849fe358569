import { probeBroker, randomKey, randomPrefix } from '@teal/amq-core/testing';
import { computePowensSignature, decodeMessage, verifyPowensWebhook } from '@teal/messages';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BROKER_URLS } from './helpers/brokers';
import { type DemoProcess, startDemoProcess } from './helpers/process';
import { deleteRabbitExchanges } from './helpers/rabbit';
import { describeIfAvailable } from './helpers/require';
import { basic, TestSocket } from './helpers/websocket';

const BROKERS = [
  { name: 'RabbitMQ', url: BROKER_URLS.amqp },
  { name: 'Redis Streams', url: BROKER_URLS.redis },
  { name: 'NATS', url: BROKER_URLS.nats },
];

/** A state store both processes share, on keys or a table no other test uses. */
function sharedStateStore(index: number, prefix: string): { url: string; table: string | null } {
  const token = prefix.replace(/[^a-z0-9]/gi, '').toLowerCase();
  const url = new URL(index % 2 === 0 ? BROKER_URLS.postgres : BROKER_URLS.redis);
  if (url.protocol.startsWith('postgres')) {
    const table = `e2e_states_${token}`;
    url.searchParams.set('table', table);
    return { url: url.toString(), table };
  }
  url.searchParams.set('key_prefix', `e2e:${token}:`);
  return { url: url.toString(), table: null };
}

const PASSWORD = 'e2e-password';
const SECRET = 'e2e-webhook-secret';

for (const [index, broker] of BROKERS.entries()) {
  describeIfAvailable(
    `listener and dispatcher as two processes over ${broker.name}`,
    await probeBroker(broker.url),
    () => {
      let listener: DemoProcess;
      let dispatcher: DemoProcess;
      let client: TestSocket;
      const prefix = randomPrefix();
      const states = sharedStateStore(index, prefix);

      beforeAll(async () => {
        // They share nothing but the broker, and a prefix no other test uses.
        const env = {
          AMQP_URL: broker.url,
          AMQP_EXCHANGE_PREFIX: prefix,
          HOST: '127.0.0.1',
          PORT: '0',
          DISPATCHER_PASSWORD: PASSWORD,
          LOG_LEVEL: 'warn',
          STATE_STORE_URL: states.url,
        };
        const started = await Promise.allSettled([
          startDemoProcess('listener', env),
          startDemoProcess('dispatcher', env),
        ]);
        const failure = started.find((result) => result.status === 'rejected');
        if (failure !== undefined) {
          await Promise.all(
            started.map((result) =>
              result.status === 'fulfilled' ? result.value.stop() : undefined,
            ),
          );
          throw (failure as PromiseRejectedResult).reason;
        }
        [listener, dispatcher] = started.map(
          (result) => (result as PromiseFulfilledResult<DemoProcess>).value,
        ) as [DemoProcess, DemoProcess];
        client = await TestSocket.open(dispatcher.url, { headers: basic('anonymous', PASSWORD) });
      }, 120_000);

      afterAll(async () => {
        await client?.close();
        await Promise.all([listener?.stop(), dispatcher?.stop()]);
        if (broker.url.startsWith('amqp')) await deleteRabbitExchanges(broker.url, prefix);
        if (states.table !== null) await dropTable(states.table);
      }, 30_000);

      it(`redirects (302) where the dispatcher's create said, through the shared ${new URL(states.url).protocol.replace(':', '')} state store`, async () => {
        const state = randomKey('created');
        const created = await client.request({
          create: {
            type: 'callback',
            state,
            final_redirect_url: 'https://app.example/after-login',
            expires_at: new Date(Date.now() + 300_000).toISOString(),
          },
          register_to: { type: 'callback', state },
        });
        expect(created.type).toBe('registered');
        const response = await fetch(`${listener.url}/callback?state=${state}&code=c`, {
          redirect: 'manual',
        });
        expect(response.status).toBe(302);
        expect(response.headers.get('location')).toBe('https://app.example/after-login');
        await client.next((f) => f.type === 'callback' && f.state === state, 'the callback');
      });

      it('reports both processes connected to the broker', async () => {
        for (const service of [listener, dispatcher]) {
          const response = await fetch(`${service.url}/healthz`);
          expect(response.status).toBe(200);
        }
      });

      it('carries an HTTP callback from the listener to a WebSocket client of the dispatcher', async () => {
        const state = randomKey('state');
        expect((await client.request({ register_to: { type: 'callback', state } })).type).toBe(
          'registered',
        );
        const response = await fetch(`${listener.url}/callback?state=${state}&code=the-code`);
        expect(response.status).toBe(200);
        const frame = await client.next(
          (f) => f.type === 'callback' && f.state === state,
          'the callback',
        );
        expect(frame.url).toBe(`${listener.url}/callback?state=${state}&code=the-code`);
      });

      it('carries a signed Powens webhook whose signature verifies with the secret', async () => {
        const domain = randomKey('bank');
        expect(
          (
            await client.request({
              register_to: { type: 'powens_domain', powens_domain: `${domain}.biapi.pro` },
            })
          ).type,
        ).toBe('registered');
        const path = `/powens-webhook/${domain}.biapi.pro/CONNECTION_SYNCED`;
        const date = new Date().toISOString();
        const payload = '{"connection": {"id": 7, "state": null}, "note": "état ½"}';
        const response = await fetch(`${listener.url}${path}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'bi-signature': await computePowensSignature(SECRET, `POST.${path}.${date}.`, payload),
            'bi-signature-date': date,
          },
          body: payload,
        });
        expect(response.status).toBe(204);
        const frame = await client.next(
          (f) => f.type === 'powens_webhook' && f.domain === `${domain}.biapi.pro`,
          'the webhook',
        );
        const message = decodeMessage('powens_webhook', JSON.stringify(frame));
        expect(message).toMatchObject({ event: 'CONNECTION_SYNCED', payload });
        expect(await verifyPowensWebhook(message, SECRET, { maxAgeMs: 600_000 })).toEqual({
          ok: true,
        });
        expect((await verifyPowensWebhook(message, `${SECRET}!`)).ok).toBe(false);
      });

      it('carries a CIBA push notification', async () => {
        const requestId = randomKey('auth-req');
        await client.request({
          register_to: { type: 'openid_ciba_callback', request_id: requestId },
        });
        const response = await fetch(`${listener.url}/openid-ciba-callback`, {
          method: 'POST',
          headers: { authorization: 'Bearer ciba-token', 'content-type': 'application/json' },
          body: JSON.stringify({ auth_req_id: requestId, error: 'access_denied' }),
        });
        expect(response.status).toBe(204);
        const frame = await client.next(
          (f) => f.type === 'openid_ciba_callback' && f.request_id === requestId,
          'the notification',
        );
        expect(frame).toMatchObject({
          access_token: 'ciba-token',
          push_error: { error: 'access_denied', error_description: null },
        });
      });
    },
  );
}

async function dropTable(table: string): Promise<void> {
  const client = new pg.Client({ connectionString: BROKER_URLS.postgres });
  await client.connect();
  try {
    await client.query(`DROP TABLE IF EXISTS ${table}`);
  } finally {
    await client.end();
  }
}
