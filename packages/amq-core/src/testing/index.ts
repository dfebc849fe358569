export { describeHandlerContract } from './contract';
export { goldenMessages } from './fixtures';
export {
  Inbox,
  publishRawForTesting,
  randomKey,
  randomPrefix,
  sleep,
  transportOf,
  waitFor,
} from './helpers';
export { brokersRequired, describeWithBroker, probeBroker } from './probe';
export type { AdapterCapabilities, ContractTarget } from './target';
