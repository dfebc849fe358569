export { describeHandlerContract } from './contract';
export { FaultProxy, type FreezeDirection } from './fault-proxy';
export { goldenMessages } from './fixtures';
export type { LogRecord } from './helpers';
export {
  backlogOf,
  Inbox,
  memoryFootprint,
  publishRawForTesting,
  randomKey,
  randomPrefix,
  recordLogs,
  reportFigure,
  sleep,
  transportOf,
  waitFor,
} from './helpers';
export { brokersRequired, describeWithBroker, probeBroker } from './probe';
export { formatOutageFigures, type OutageFigures, steadySends } from './steady-sends';
export { eventually } from './suites/support';
export type {
  AdapterCapabilities,
  BrokerTarget,
  ContractTarget,
  HostileFrame,
} from './target';
