// The plugins' defaults the flags take, written out so that --help and the definitions of the commands load
// neither the consumer nor the protocol. The tests compare each with the plugins' own (JWKS_DEFAULTS.timeout,
// DEFAULT_CLOCK_SKEW, DEFAULT_TOKEN_TTL), so they cannot drift apart.

/** The consumer's `jwks.timeout`. */
export const JWKS_TIMEOUT = '5s'
/** The consumer's `clockTolerance`: the protocol's clock skew. */
export const CLOCK_TOLERANCE = '30s'
/** The consumer's `maxTokenAge`: the protocol's token lifetime. */
export const MAX_TOKEN_AGE = '300s'
