export { describeHandlerContract } from './contract';
export { goldenMessages } from './fixtures';
export type { LogRecord } from './helpers';
export {
  Inbox,
  publishRawForTesting,
  randomKey,
  randomPrefix,
  recordLogs,
  sleep,
  transportOf,
  waitFor,
} from './helpers';
export { brokersRequired, describeWithBroker, probeBroker } from './probe';
export type { AdapterCapabilities, ContractTarget } from './target';
