import {
  describeWithBroker,
  eventually,
  probeBroker,
  randomKey,
  randomPrefix,
} from '@teal/amq-core/testing';
import { expect, it } from 'vitest';
import { BROKERS, jsonLines, urlWith } from './support/brokers';
import { RunningCli, runCli } from './support/cli';

for (const broker of BROKERS) {
  describeWithBroker(`teal-amq on ${broker.name}`, await probeBroker(broker.url), () => {
    const env = () => ({ AMQP_URL: broker.url, AMQP_EXCHANGE_PREFIX: randomPrefix() });

    it('listen prints what send sent, masked, and unbinds and exits 0 on Ctrl-C', async () => {
      const settings = env();
      const [first, second] = [randomKey('state'), randomKey('state')];
      const listen = new RunningCli(['listen', 'callback', first, second], settings);
      await listen.untilStderr(/^listening for callback messages on /m);
      for (const state of [first, second]) {
        const sent = await runCli(
          [
            'send',
            'callback',
            '--state',
            state,
            '--url',
            `https://app.test/cb?state=${state}&code=secret-code-42`,
          ],
          settings,
        );
        expect(sent).toMatchObject({ code: 0, stderr: '' });
        expect(sent.stdout).toMatch(new RegExp(`^sent callback message, state ${state}, in `));
      }
      const lines = await eventually(
        () => jsonLines(listen.stdout),
        (printed) => printed.length === 2,
        'two lines from listen',
      );
      expect(lines.map((line) => line.state)).toEqual([first, second]);
      expect(lines[0]).toMatchObject({ url: 'https://app.test/cb?state=***&code=***' });
      expect(listen.stdout).not.toContain('secret-code-42');
      listen.child.kill('SIGINT');
      const { code, ms } = await listen.exited;
      expect(code).toBe(0);
      expect(ms).toBeLessThan(30_000);
    });

    it('listen --count 1 --show-secrets prints the tokens as sent, then exits 0', async () => {
      const settings = env();
      const requestId = randomKey('request');
      const listen = new RunningCli(
        ['listen', 'ciba', requestId, '--count', '1', '--show-secrets'],
        settings,
      );
      await listen.untilStderr(/^listening/m);
      const sent = await runCli(
        ['send', 'ciba', '--request-id', requestId, '--access-token', 'bearer-secret-1'],
        settings,
      );
      expect(sent).toMatchObject({ code: 0 });
      const finished = await listen.exited;
      expect(finished).toMatchObject({ code: 0 });
      expect(jsonLines(finished.stdout)).toEqual([
        expect.objectContaining({
          request_id: requestId,
          access_token: 'bearer-secret-1',
          push_token: null,
        }),
      ]);
    });

    it('wait prints the first message and exits 0', async () => {
      const settings = env();
      const domain = `${randomKey('wait')}.biapi.pro`;
      const wait = new RunningCli(['wait', 'powens', domain, '--timeout', '20s'], settings);
      await wait.untilStderr(/^waiting for one powens_webhook message on /m);
      const sent = await runCli(
        [
          'send',
          'powens',
          '--domain',
          domain,
          '--event',
          'USER_CREATED',
          '--payload',
          '{"secret": "payload"}',
        ],
        settings,
      );
      expect(sent).toMatchObject({ code: 0 });
      const finished = await wait.exited;
      expect(finished).toMatchObject({ code: 0 });
      expect(jsonLines(finished.stdout)).toEqual([
        expect.objectContaining({ domain, event: 'USER_CREATED', payload: '<21 characters>' }),
      ]);
    });

    it('wait exits 2 when nothing comes within --timeout', async () => {
      const result = await runCli(
        ['wait', 'callback', randomKey('silent'), '--timeout', '1s'],
        env(),
      );
      expect(result.stderr).toMatch(/^no callback message on silent-\S+ within 1\.0 s$/m);
      expect(result.code).toBe(2);
      expect(result.ms).toBeLessThan(20_000);
    });

    it('doctor passes every check and names the broker and its version', async () => {
      const result = await runCli(['doctor'], env());
      expect(result.stdout).toMatch(new RegExp(`^ok +broker +${broker.version.source}`, 'm'));
      expect(result.stdout).toMatch(/^ok +round trip +one callback message/m);
      expect(result.stdout).toMatch(/^ok +clock +timestamp kept/m);
      expect(result.stdout).toMatch(/^all 8 checks passed/m);
      expect(result.code).toBe(0);
    });

    it('doctor on a closed port says nothing listens there, and what to do', async () => {
      const closed = urlWith(broker.url, (url) => {
        url.hostname = '127.0.0.1';
        url.port = '1';
      });
      const result = await runCli(['doctor', '--timeout', '5s'], { AMQP_URL: closed });
      expect(result.stdout).toMatch(
        /^FAIL +broker +nothing listens on 127\.0\.0\.1:1 \(connection refused\)/m,
      );
      expect(result.stdout).toMatch(
        /^ +remedy: start the broker, or correct the host and port in AMQP_URL/m,
      );
      expect(result.stdout).toMatch(/^skip +connect/m);
      expect(result.code).toBe(1);
    });

    it('send to a closed port fails with the same diagnosis', async () => {
      const closed = urlWith(broker.url, (url) => {
        url.hostname = '127.0.0.1';
        url.port = '1';
      });
      const result = await runCli(
        ['send', 'callback', '--state', 's', '--url', 'https://app.test/cb', '--timeout', '3s'],
        { AMQP_URL: closed },
      );
      expect(result.stderr).toMatch(
        /^error: cannot connect: nothing listens on 127\.0\.0\.1:1 \(connection refused\)\n {2}remedy: start the broker/m,
      );
      expect(result.code).toBe(1);
    });
  });
}
