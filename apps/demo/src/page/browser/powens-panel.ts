import {
  computePowensSignature,
  decodeMessage,
  type PowensWebhookMessage,
  verifyPowensWebhook,
} from '@teal/messages';
import type { DispatcherClient, ServerFrame } from './client';
import { byId, detail, element, randomToken, timeOf } from './dom';

const SUFFIX = '.biapi.pro';
const SHOWN_PAYLOAD_CHARACTERS = 600;

interface Shown {
  readonly message: PowensWebhookMessage;
  readonly verdict: HTMLElement;
}

/**
 * Panel 2: waits on a Powens domain, lists its webhooks as they arrive and
 * verifies their HMAC signatures here, in the browser, with the typed secret.
 */
export class PowensPanel {
  readonly #client: DispatcherClient;
  readonly #listenerUrl: string;
  readonly #shown: Shown[] = [];
  #domain = '';

  constructor(client: DispatcherClient, listenerUrl: string) {
    this.#client = client;
    this.#listenerUrl = listenerUrl;
    const input = byId<HTMLInputElement>('powens-domain');
    input.value = `demo-${randomToken(4)
      .toLowerCase()
      .replace(/[^a-z0-9]/g, 'x')}`;
    byId<HTMLFormElement>('powens-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.watch(input.value.trim());
    });
    byId('powens-secret').addEventListener('input', () => this.#verifyAll());
    byId('send-test-webhook').addEventListener('click', () => void this.#sendTestWebhook());
  }

  /** Waits on a domain (without `.biapi.pro`) instead of the current one. */
  watch(domain: string): void {
    if (domain === '' || domain === this.#domain) return;
    if (this.#domain !== '')
      this.#client.unregister({ type: 'powens_domain', powens_domain: `${this.#domain}${SUFFIX}` });
    this.#domain = domain;
    byId('webhook-url').textContent = this.#webhookUrl('{EVENT}');
    byId('powens-status').textContent = 'registering the domain with the dispatcher…';
    // The protocol takes the full domain, as messages carry it.
    this.#client.register({ type: 'powens_domain', powens_domain: `${domain}${SUFFIX}` });
  }

  /** Takes the frames that concern this panel; returns whether it did. */
  handle(frame: ServerFrame): boolean {
    if (frame.type === 'registered') {
      const target = frame.register_to as { type?: unknown; powens_domain?: unknown } | null;
      if (target?.type !== 'powens_domain' || target.powens_domain !== `${this.#domain}${SUFFIX}`)
        return false;
      byId('powens-status').textContent = `waiting for webhooks of ${this.#domain}${SUFFIX}…`;
      return true;
    }
    if (frame.type !== 'powens_webhook') return false;
    const message = decodeMessage('powens_webhook', JSON.stringify(frame));
    const verdict = element('span', '', 'verdict');
    const item = element('li', '', 'event arrived');
    item.dataset.testid = 'webhook-event';
    const payload =
      message.payload.length > SHOWN_PAYLOAD_CHARACTERS
        ? `${message.payload.slice(0, SHOWN_PAYLOAD_CHARACTERS)}… (${message.payload.length} characters)`
        : message.payload;
    item.append(
      element('strong', `${message.event} at ${timeOf(message.timestamp)}`),
      verdict,
      detail('domain', message.domain),
      detail('signed', message.hmacSignature?.signatureDate?.toISOString() ?? 'no (user token)'),
      element('pre', payload),
    );
    byId('webhooks').prepend(item);
    this.#shown.push({ message, verdict });
    void this.#verify({ message, verdict });
    return true;
  }

  #verifyAll(): void {
    for (const shown of this.#shown) void this.#verify(shown);
  }

  async #verify({ message, verdict }: Shown): Promise<void> {
    const secret = byId<HTMLInputElement>('powens-secret').value;
    if (message.hmacSignature === null) {
      show(verdict, 'unsigned', 'not signed: authenticated by a user token');
    } else if (secret === '') {
      show(verdict, 'pending', 'type the webhook secret to verify the signature');
    } else {
      const result = await verifyPowensWebhook(message, secret);
      if (result.ok)
        show(verdict, 'valid', 'signature verified ✔ (dated within 5 minutes of its reception)');
      else show(verdict, 'invalid', `signature refused ✘ (${result.detail})`);
    }
  }

  async #sendTestWebhook(): Promise<void> {
    const status = byId('powens-status');
    const secret = byId<HTMLInputElement>('powens-secret').value;
    if (this.#domain === '' || secret === '') {
      status.textContent =
        'wait on a domain and type a secret first: the test webhook is signed with it.';
      return;
    }
    const url = this.#webhookUrl('TEST_EVENT');
    const date = new Date().toISOString();
    const payload = JSON.stringify({ id: randomToken(6), event: 'TEST_EVENT', sent_at: date });
    const prefix = `POST.${new URL(url).pathname}.${date}.`;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'bi-signature': await computePowensSignature(secret, prefix, payload),
          'bi-signature-date': date,
        },
        body: payload,
      });
      if (!response.ok)
        status.textContent = `the listener answered ${response.status}: ${await response.text()}`;
    } catch {
      status.textContent =
        'the listener could not be reached from this page (another origin?): use curl instead.';
    }
  }

  #webhookUrl(event: string): string {
    return `${this.#listenerUrl}/powens-webhook/${this.#domain}${SUFFIX}/${event}`;
  }
}

function show(verdict: HTMLElement, state: string, text: string): void {
  verdict.dataset.state = state;
  verdict.textContent = text;
}
