export { describeHandlerContract } from './contract';
export { goldenMessages } from './fixtures';
export { Inbox, publishRawForTesting, randomKey, randomPrefix, sleep, waitFor } from './helpers';
export { brokersRequired, probeBroker } from './probe';
export type { AdapterCapabilities, ContractTarget } from './target';
