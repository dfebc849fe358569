import { baseTest } from '../vitest.config.base.ts';

export default baseTest;
