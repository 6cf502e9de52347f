import createError from '@fastify/error'

// Configuration mistakes are WebhookOptionError (WEBHOOK_INVALID_OPTION, WEBHOOK_UNSAFE_ROTATION) from
// @webhook-jwt/protocol; everything the producer can raise at run time is here, one code per failure.

/** The key store holds something that is not a key set this package wrote. It is never overwritten. */
export const KeyStoreCorruptError = createError<[string, string]>('WEBHOOK_KEY_STORE_CORRUPT', 'The key store %s does not hold a valid key set: %s. Restore it from a backup; it is never regenerated, because that would replace published keys.', 500)

/** The key store cannot be read or written. */
export const KeyStoreUnavailableError = createError<[string, string]>('WEBHOOK_KEY_STORE_UNAVAILABLE', 'The key store %s cannot be used: %s', 500)

/** The key file can be read or written by users other than its owner. */
export const KeyStoreInsecureError = createError<[string, string]>('WEBHOOK_KEY_STORE_INSECURE', 'The key file %s has mode %s: users other than its owner can read or change private keys. Run chmod 600 on it.', 500)

/** The key file's folder can be changed by users other than its owner: any of them could put a key set of their own in it. */
export const KeyFolderInsecureError = createError<[string, string]>('WEBHOOK_KEY_STORE_FOLDER_INSECURE', 'The key folder %s has mode %s: users other than its owner can add or replace files in it, so any of them could make this process sign with and publish keys of their choosing. Run chmod 700 on it.', 500)

/** The key file or its folder belongs to another user, who could change the keys. */
export const KeyStoreNotOwnedError = createError<[string, string, string, string]>('WEBHOOK_KEY_STORE_NOT_OWNED', 'The %s %s belongs to uid %s, not to uid %s that runs this process: its owner could change the keys this process signs with. Run the process as that user, or chown the key file and its folder to the user it runs as.', 500)

/** The key path is a symbolic link, a folder, a FIFO or another thing that is not a regular file. */
export const KeyStoreNotAFileError = createError<[string, string]>('WEBHOOK_KEY_STORE_NOT_A_FILE', 'The key store %s cannot be used: it is not a regular file but %s. A link is never followed (whoever controls its target would choose the keys, and a write would replace the link) and nothing else can hold keys. Point fileKeyStore.path at the key file itself, or move the key file to this path.', 500)

/** Someone else changed the key set since it was read; the producer re-reads it and tries again. */
export const KeyStoreConflictError = createError<[string]>('WEBHOOK_KEY_STORE_CONFLICT', 'The key store %s was changed by someone else since it was read', 409)

/** Another replica holds the step lease of a shared key store for longer than a step takes; the step is tried again. */
export const KeyStoreBusyError = createError<[string]>('WEBHOOK_KEY_STORE_BUSY', 'Another producer replica is applying a key step in %s; try again shortly', 409)

/** The step lease lapsed before the step was stored (this replica paused or lost Redis); another replica may have taken over. */
export const KeyStoreFencedError = createError<[string]>('WEBHOOK_KEY_STORE_FENCED', 'The key store %s refused a step planned under a lease that is no longer current', 409)

/** A replica could not confirm its keys against a shared store for longer than its maxStaleness: it stops signing and serving them. */
export const KeySetStaleError = createError<[string, string]>('WEBHOOK_KEY_SET_STALE', 'The signing keys could not be confirmed against the key store %s for %s; signing and the JWKS are paused until it answers', 503)

/** A private key is encrypted at rest and cannot be decrypted with what was configured. */
export const KeyDecryptionError = createError<[string, string]>('WEBHOOK_KEY_DECRYPTION_FAILED', 'The private key %s cannot be decrypted: %s', 500)

/** Nothing can sign: the producer is closed. */
export const NoActiveKeyError = createError('WEBHOOK_NO_ACTIVE_KEY', 'No signing key is active', 503)

/** `revoke(kid)` named a key that is not published. */
export const UnknownKeyError = createError<[string]>('WEBHOOK_UNKNOWN_KEY', 'No published key has the kid %s', 404)

/** `rollback()` found no previous key that is still published. */
export const NothingToRollBackError = createError('WEBHOOK_NOTHING_TO_ROLL_BACK', 'There is no previous key still published to roll back to', 409)

/** The producer was closed while the call was waiting. */
export const ProducerClosedError = createError('WEBHOOK_PRODUCER_CLOSED', 'The webhook producer is closed', 503)

/** `deliver()` to an endpoint that answered 410 Gone: nothing more is sent there until it is restored. */
export const EndpointGoneError = createError<[string]>('WEBHOOK_ENDPOINT_GONE', 'The endpoint %s answered 410 Gone; call app.webhooks.restoreEndpoint(url) once it is back', 410)

/**
 * A delivery's destination is not a public address (loopback, private, link-local such as 169.254.169.254,
 * …), or its name resolves to one, and `delivery.allowedNetworks` does not allow it. No connection is made;
 * the delivery fails at once.
 */
export const DestinationForbiddenError = createError<[string, string, string]>('WEBHOOK_DESTINATION_FORBIDDEN', 'The delivery destination %s is refused: %s is in %s, not a public address. Add its network to delivery.allowedNetworks if deliveries there are meant', 403)
