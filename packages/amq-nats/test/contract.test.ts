import { describeHandlerContract } from '@teal/amq-core/testing';
import { coreTarget, durableTarget } from './support/broker';

describeHandlerContract(await coreTarget());
describeHandlerContract(await durableTarget());
