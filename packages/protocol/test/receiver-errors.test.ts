import t from 'tap'
import { PROBLEM_CONTENT_TYPE, RECEIVER_ERRORS, isReceiverErrorCode, receiverProblem } from '@webhook-jwt/protocol'

t.test('every 503 asks for a later retry and every 400 or 401 is final but the unknown key', async (t) => {
  for (const [code, entry] of Object.entries(RECEIVER_ERRORS)) {
    if (entry.status === 503) t.equal(entry.action, 'after', code)
    else t.equal(entry.action, code === 'WEBHOOK_KEY_UNKNOWN' ? 'retry' : 'never', code)
  }
  t.equal(RECEIVER_ERRORS.WEBHOOK_BODY_NOT_ALLOWED.status, 400, 'a body on a method without one is a bad request, not a failed authentication')
})

t.test('problem bodies hold fixed text only', async (t) => {
  t.same(receiverProblem('WEBHOOK_REPLAYED'), { type: 'urn:webhook-jwt:error:WEBHOOK_REPLAYED', title: 'This token has been used before', status: 401, code: 'WEBHOOK_REPLAYED' })
  t.equal(receiverProblem('WEBHOOK_KEY_UNAVAILABLE').status, 503)
  t.equal(PROBLEM_CONTENT_TYPE, 'application/problem+json')
})

t.test('isReceiverErrorCode', async (t) => {
  t.ok(isReceiverErrorCode('WEBHOOK_KEY_UNKNOWN'))
  t.notOk(isReceiverErrorCode('toString'))
  t.notOk(isReceiverErrorCode(401))
})
