// @webhook-jwt/redis: run producers and consumers as several replicas on one Redis.
export { DEFAULT_COMMAND_TIMEOUT_MS, type RedisConnection } from './connection.ts'
export { redisKeyStore, DEFAULT_KEY_STORE_PREFIX, DEFAULT_LEASE_TTL, DEFAULT_MAX_STALENESS, type RedisKeyStoreOptions } from './key-store.ts'
export { bullmqDeliveryQueue, DEFAULT_DELIVERY_QUEUE_NAME, DEFAULT_LOCK_DURATION, DEFAULT_LOOKAHEAD, type BullmqDeliveryQueueOptions } from './delivery-queue.ts'
export { redisReplayStore, DEFAULT_REPLAY_PREFIX, MAX_PLAIN_KEY_LENGTH, type RedisReplayStoreOptions } from './replay-store.ts'
