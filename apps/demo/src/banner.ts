import { redactUrl } from '@teal/amq-core';
import type { DemoConfig } from './config';

/**
 * What the service prints once it listens: the URL to open, with the
 * password when it was generated, and the URLs to give providers.
 */
export function startBanner(config: DemoConfig, port: number): string {
  const { role, host } = config;
  const shownHost =
    host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const base = `http://${shownHost}:${port}`;
  const lines = [
    `TeaL AMQ demo (${role === 'both' ? 'listener + dispatcher' : role}) on ${redactUrl(config.amqpUrl)}`,
    `listening on ${base}`,
  ];
  if (role !== 'listener') {
    if (config.isPasswordGenerated) {
      // In the fragment, which browsers never send: the password stays out of access logs.
      lines.push(`open ${base}/#password=${encodeURIComponent(config.dispatcherPassword)}`);
      lines.push(`dispatcher user: anonymous, generated password: ${config.dispatcherPassword}`);
    } else {
      lines.push(`open ${base}/ (user anonymous, the password of DISPATCHER_PASSWORD)`);
    }
  }
  if (role !== 'dispatcher') {
    lines.push(`OAuth2 redirect URI: ${base}/callback`);
    lines.push(`Powens webhooks:     ${base}/powens-webhook/<domain>.biapi.pro/<EVENT>`);
  }
  return lines.join('\n');
}
