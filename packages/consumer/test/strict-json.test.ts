import t from 'tap'
import { StrictJsonError, parseStrictJson } from '../src/token/strict-json.ts'

t.test('parses what JSON.parse parses', async (t) => {
  for (const text of ['{}', '[]', ' { } ', '{"a":[1,2,{"b":null}],"c":"\\u0022x\\\\","d":-1.5e3,"e":true,"f":false}', '[[]]', '"s"', '12', '{"a":{}}', '{ "a" : [ ] }']) {
    t.same(parseStrictJson(text), JSON.parse(text), text)
  }
})

t.test('refuses repeated members, at any depth, also when spelt with escapes', async (t) => {
  for (const text of ['{"a":1,"a":2}', '{"x":{"a":1,"a":2}}', '[{"a":1,"\\u0061":2}]']) t.throws(() => parseStrictJson(text), StrictJsonError, text)
  t.same(parseStrictJson('[{"a":1},{"a":2}]'), [{ a: 1 }, { a: 2 }], 'the same name in two objects is fine')
})

t.test('refuses nesting deeper than the limit', async (t) => {
  t.throws(() => parseStrictJson('[[[[1]]]]', 3), { message: 'JSON nested too deeply' })
  t.same(parseStrictJson('[[[1]]]', 3), [[[1]]])
})

t.test('refuses invalid JSON', async (t) => {
  for (const text of ['', '{', '{"a"}', '{"a" 1}', '{"a":1,}', '{1:2}', '[1 2]', '[1,]', '{} x', '"unterminated', 'tru', '{"a":tru}', '"\\x"', '\u00a0{}', '{"a":1}}', '[', 'nul']) {
    t.throws(() => parseStrictJson(text), JSON.stringify(text))
  }
})
