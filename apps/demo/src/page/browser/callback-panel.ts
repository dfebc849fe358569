import { decodeMessage } from '@teal/messages';
import type { DispatcherClient, ServerFrame } from './client';
import { byId, detail, element, randomToken, timeOf } from './dom';

/**
 * Panel 1: waits on a fresh OAuth2 state and offers a link that plays the
 * provider, redirecting to the listener's `/callback` in a new tab.
 */
export class CallbackPanel {
  readonly #client: DispatcherClient;
  readonly #listenerUrl: string;
  #state = '';

  constructor(client: DispatcherClient, listenerUrl: string) {
    this.#client = client;
    this.#listenerUrl = listenerUrl;
    byId('new-state').addEventListener('click', () => this.renew());
  }

  /** Forgets the current state and waits on a new one. */
  renew(): void {
    if (this.#state !== '') this.#client.unregister({ type: 'callback', state: this.#state });
    this.#state = randomToken();
    byId('callback-state').textContent = this.#state;
    const link = byId<HTMLAnchorElement>('provider-link');
    link.href = '#callback-state';
    link.setAttribute('aria-disabled', 'true');
    byId('callback-status').textContent = 'registering the state with the dispatcher…';
    this.#client.register({ type: 'callback', state: this.#state });
  }

  /** Takes the frames that concern this panel; returns whether it did. */
  handle(frame: ServerFrame): boolean {
    if (frame.type === 'registered' && isCallbackTarget(frame.register_to, this.#state)) {
      const link = byId<HTMLAnchorElement>('provider-link');
      const query = new URLSearchParams({ state: this.#state, code: randomToken(12) });
      link.href = `${this.#listenerUrl}/callback?${query}`;
      link.removeAttribute('aria-disabled');
      byId('callback-status').textContent = 'waiting for the provider to call back…';
      return true;
    }
    if (frame.type !== 'callback') return false;
    const message = decodeMessage('callback', JSON.stringify(frame));
    const item = element('li', '', 'event arrived');
    item.dataset.testid = 'callback-event';
    item.append(
      element('strong', `Callback received at ${timeOf(message.timestamp)}`),
      detail('state', message.state),
      detail('url', message.url),
    );
    byId('callbacks').prepend(item);
    if (message.state === this.#state) {
      byId('callback-status').textContent = 'the callback arrived: the flow can continue.';
    }
    return true;
  }
}

function isCallbackTarget(target: unknown, state: string): boolean {
  const candidate = target as { type?: unknown; state?: unknown } | null;
  return candidate?.type === 'callback' && candidate.state === state;
}
