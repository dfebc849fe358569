import { CallbackPanel } from './callback-panel';
import { type ConnectionStatus, DispatcherClient } from './client';
import { byId } from './dom';
import { PowensPanel } from './powens-panel';

const STATUS_TEXT: Record<ConnectionStatus, string> = {
  connecting: 'connecting to the dispatcher…',
  open: 'connected to the dispatcher',
  closed: 'disconnected: reconnecting…',
  refused: 'the dispatcher refused the connection: check the password',
};

/** Wires the page: the password, the dispatcher's socket and the two panels. */
function start(): void {
  // The listener's public URL when it runs apart; this page's origin otherwise.
  const listenerUrl = (document.body.dataset.listenerUrl || location.origin).replace(/\/+$/, '');
  let panels: { callback: CallbackPanel; powens: PowensPanel } | null = null;
  const client = new DispatcherClient({
    onStatus(status) {
      const badge = byId('connection');
      badge.textContent = STATUS_TEXT[status];
      badge.dataset.state = status;
      byId('password-form').hidden = status !== 'refused';
    },
    onFrame(frame) {
      if (panels === null) return;
      if (panels.callback.handle(frame) || panels.powens.handle(frame)) return;
      if (frame.type === 'error')
        byId('connection').textContent = `dispatcher error: ${String(frame.error)}`;
    },
  });
  panels = {
    callback: new CallbackPanel(client, listenerUrl),
    powens: new PowensPanel(client, listenerUrl),
  };

  byId<HTMLFormElement>('password-form').addEventListener('submit', (event) => {
    event.preventDefault();
    client.connect(byId<HTMLInputElement>('password').value);
  });

  // The printed URL carries the password in the fragment, which never reaches a server.
  const password = new URLSearchParams(location.hash.slice(1)).get('password') ?? '';
  panels.callback.renew();
  panels.powens.watch(byId<HTMLInputElement>('powens-domain').value);
  client.connect(password);
}

start();
