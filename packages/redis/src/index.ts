// @webhook-jwt/redis: run producers and consumers as several replicas on one Redis.
export { DEFAULT_COMMAND_TIMEOUT_MS, type RedisConnection } from './connection.ts'
export { redisReplayStore, DEFAULT_REPLAY_PREFIX, MAX_PLAIN_KEY_LENGTH, type RedisReplayStoreOptions } from './replay-store.ts'
