/** Every Powens domain ends with it: `example.biapi.pro`. */
export const POWENS_DOMAIN_SUFFIX = '.biapi.pro';

/** Whether a webhook domain is a Powens one: the suffix and something before it. */
export function isPowensDomain(domain: string): boolean {
  return domain.endsWith(POWENS_DOMAIN_SUFFIX) && domain.length > POWENS_DOMAIN_SUFFIX.length;
}
