// llmgw-sim's answer engine where the gateway's semantic checks lean on it: the judge persona
// (a grading request answered with {"score", "reason"} by a fixed rule) and embeddings whose
// cosine similarity follows the words two texts share. The gateway's judge and similar_to tests
// would prove nothing if these did not grade and measure exactly as documented, on every face.
// Only the simulator runs here.
import assert from 'node:assert/strict';
import { before, beforeEach, describe, test } from 'node:test';
import { postJson, sseData, startSim } from './lib/harness.mjs';

const NAME = 'sim-j';
const JUDGE_SYSTEM = 'You grade an answer against a rubric.\nRubric: the answer must be correct and useful.';

let sim;
const url = (path) => `http://127.0.0.1:${sim.port}${path}`;

before(async () => {
  sim = await startSim({ name: NAME });
});

beforeEach(async () => {
  await sim.reset();
});

const judgeText = (question, answer) => `Question:\n${question}\n\nAnswer:\n${answer}`;

// Each face's judge request and how to read the answer's text and usage.
const faces = {
  openai: {
    async ask(system, user, { json = false } = {}) {
      const res = await postJson(url('/v1/chat/completions'), {
        model: 'judge',
        messages: [{ role: 'system', content: system }, { role: 'user', content: user }],
        ...(json ? { response_format: { type: 'json_object' } } : {}),
      });
      assert.equal(res.status, 200, res.text);
      const u = res.json.usage;
      return { text: res.json.choices[0].message.content, usage: [u.prompt_tokens, u.completion_tokens] };
    },
  },
  anthropic: {
    async ask(system, user) {
      const res = await postJson(url('/v1/messages'), {
        model: 'judge', max_tokens: 200, system, messages: [{ role: 'user', content: user }],
      }, { headers: { 'anthropic-version': '2023-06-01' } });
      assert.equal(res.status, 200, res.text);
      const u = res.json.usage;
      return { text: res.json.content[0].text, usage: [u.input_tokens, u.output_tokens] };
    },
  },
  gemini: {
    async ask(system, user, { json = false } = {}) {
      const res = await postJson(url('/v1beta/models/judge:generateContent'), {
        systemInstruction: { parts: [{ text: system }] },
        contents: [{ role: 'user', parts: [{ text: user }] }],
        ...(json ? { generationConfig: { responseMimeType: 'application/json' } } : {}),
      });
      assert.equal(res.status, 200, res.text);
      const u = res.json.usageMetadata;
      return { text: res.json.candidates[0].content.parts[0].text, usage: [u.promptTokenCount, u.candidatesTokenCount] };
    },
  },
};

async function verdict(face, question, answer, opts) {
  const { text, usage } = await faces[face].ask(JUDGE_SYSTEM, judgeText(question, answer), opts);
  const parsed = JSON.parse(text);
  assert.deepEqual(Object.keys(parsed), ['score', 'reason'], `the verdict itself, not wrapped: ${text}`);
  assert.ok(Number.isInteger(parsed.score) && parsed.score >= 0 && parsed.score <= 10, text);
  assert.equal(typeof parsed.reason, 'string');
  assert.ok(usage[0] > 0 && usage[1] > 0, `usage reported like any answer: ${usage}`);
  return parsed;
}

// [question, answer, score, reason pattern]
const CASES = [
  ['What is 17 + 25? Reply with the number only.', '42', 10, /42/],
  ['What is 17 + 25?', 'The answer is 42.', 10, /42/],
  ['What is 17 + 25?', '43', 0, /expected 42/],
  ['What is 17 + 25?', '420', 0, /expected 42/],
  ['What is 17 + 25?', '4.2', 0, /expected 42/],
  ['Quick check, no tools: what is 6 * 7?', '6 * 7 = 42', 10, /42/],
  ['What is 5 - 8?', '-3', 10, /-3/],
  ['What is 5 - 8?', '3', 0, /expected -3/],
  ['What is 1000 * 1000?', 'That is 1,000,000.', 10, /1000000/],
  // An arithmetic question is graded on its number alone.
  ['What is 2 + 2?', 'I cannot say for sure, but 4', 10, /4/],
  ['Name the capital of France.', 'Paris is the capital of France.', 8, /./],
  ['Name the capital of France.', '', 0, /empty/],
  ['Name the capital of France.', ' \n\t ', 0, /empty/],
  ['Name the capital of France.', 'Lorem Ipsum dolor sit amet', 0, /lorem ipsum/],
  ['Name the capital of France.', "I'm sorry, but I can't help with that.", 0, /refusal/],
  ['Name the capital of France.', 'I cannot answer questions about geography.', 0, /refusal/],
  ['Name the capital of France.', 'As a model I am unable to browse.', 0, /refusal/],
  ['Name the capital of France.', 'and then the answer is '.repeat(40), 0, /repeats itself \(5 distinct words in 200\)/],
  ['Name the capital of France.', 'Paris Paris Paris Paris Paris Paris Paris Paris Paris Paris', 8, /./], // < 20 words
];

describe('judge persona', () => {
  for (const face of Object.keys(faces)) {
    test(`${face}: scores by the rule`, async () => {
      for (const [question, answer, score, reason] of CASES) {
        const v = await verdict(face, question, answer);
        assert.equal(v.score, score, `${JSON.stringify(answer)} to ${JSON.stringify(question)}: ${v.reason}`);
        assert.match(v.reason, reason);
      }
    });
  }

  for (const face of ['openai', 'gemini']) {
    test(`${face}: in JSON mode the content is the verdict, not {"ok", "answer"}`, async () => {
      assert.equal((await verdict(face, 'What is 17 + 25?', '42', { json: true })).score, 10);
      assert.equal((await verdict(face, 'What is 17 + 25?', '41', { json: true })).score, 0);
      assert.equal((await verdict(face, 'Name a colour.', 'Lorem ipsum', { json: true })).score, 0);
      assert.equal((await verdict(face, 'Name a colour.', 'Blue.', { json: true })).score, 8);
      // Other requests in JSON mode are wrapped as before.
      const plain = await faces[face].ask('You are helpful.', 'hello', { json: true });
      assert.deepEqual(JSON.parse(plain.text), { ok: true, answer: `[${NAME}] hello` });
    });
  }

  test('only the exact shape is a judge request', async () => {
    const user = judgeText('What is 17 + 25?', '42');
    const other = await faces.openai.ask('You are a grader.', user);
    assert.equal(other.text, `[${NAME}] ${user}`, 'another system prompt: a normal answer');
    const loose = await faces.openai.ask(JUDGE_SYSTEM, 'Question: What is 17 + 25? Answer: 42');
    assert.equal(loose.text, `[${NAME}] Question: What is 17 + 25? Answer: 42`, 'no Question:/Answer: lines');
    // A developer message is OpenAI's newer name for the system prompt.
    const res = await postJson(url('/v1/chat/completions'), {
      model: 'judge', messages: [{ role: 'developer', content: JUDGE_SYSTEM }, { role: 'user', content: user }],
    });
    assert.equal(JSON.parse(res.json.choices[0].message.content).score, 10);
    // Anthropic system blocks: the first one starts the prompt.
    const blocks = await postJson(url('/v1/messages'), {
      model: 'judge', max_tokens: 200,
      system: [{ type: 'text', text: JUDGE_SYSTEM }, { type: 'text', text: 'Be strict.' }],
      messages: [{ role: 'user', content: user }],
    }, { headers: { 'anthropic-version': '2023-06-01' } });
    assert.equal(JSON.parse(blocks.json.content[0].text).score, 10);
  });

  test('a streamed judge answer carries the same verdict', async () => {
    const res = await postJson(url('/v1/chat/completions'), {
      model: 'judge', stream: true,
      messages: [{ role: 'system', content: JUDGE_SYSTEM }, { role: 'user', content: judgeText('What is 17 + 25?', '43') }],
    });
    assert.equal(res.status, 200);
    const text = sseData(res.text).filter((e) => e !== '[DONE]')
      .map((e) => JSON.parse(e).choices[0]?.delta?.content ?? '').join('');
    assert.equal(JSON.parse(text).score, 0);
  });

  test('content faults still break the judge (a broken judge is a test case)', async () => {
    const user = judgeText('What is 17 + 25?', '42');
    await sim.fault({ mode: 'garbage' });
    assert.equal((await faces.openai.ask(JUDGE_SYSTEM, user)).text, 'lorem ipsum dolor');
    await sim.fault({ mode: 'refusal' });
    assert.equal((await faces.anthropic.ask(JUDGE_SYSTEM, user)).text, "I'm sorry, but I can't help with that.");
    await sim.fault({ mode: 'bad_json' });
    const bad = await faces.openai.ask(JUDGE_SYSTEM, user, { json: true });
    assert.throws(() => JSON.parse(bad.text), SyntaxError);
  });
});

// ---------------------------------------------------------------------------------------------

const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
const norm = (a) => Math.sqrt(dot(a, a));
const cosine = (a, b) => dot(a, b) / (norm(a) * norm(b));

async function embedOpenai(input, extra = {}) {
  const res = await postJson(url('/v1/embeddings'), { model: 'embed', input, ...extra });
  assert.equal(res.status, 200, res.text);
  return res.json.data.map((d) => d.embedding);
}

async function embedGemini(texts, extra = {}) {
  const res = await postJson(url('/v1beta/models/embed:batchEmbedContents'), {
    requests: texts.map((text) => ({ model: 'models/embed', content: { parts: [{ text }] }, ...extra })),
  });
  assert.equal(res.status, 200, res.text);
  return res.json.embeddings.map((e) => e.values);
}

const SIMILAR = ['The capital of France is Paris.', 'Paris is the capital of France'];
const UNRELATED = [
  'The capital of France is Paris.',
  'Bananas ripen faster next to apples',
  'my laptop battery died during a meeting',
  'Quantum entanglement puzzles physicists',
  'seventeen plus twenty-five',
  '',
];

describe('embeddings', () => {
  test('texts sharing their words are similar, texts sharing none are not', async () => {
    const [a, b] = await embedOpenai(SIMILAR);
    assert.ok(cosine(a, b) > 0.9, `similar pair: ${cosine(a, b)}`);
    const partly = await embedOpenai(['What is the capital of France?', 'The capital of France is Paris.']);
    const c = cosine(partly[0], partly[1]);
    assert.ok(c > 0.6 && c < 0.95, `five words of six shared: ${c}`);

    const vectors = await embedOpenai(UNRELATED);
    for (let i = 0; i < vectors.length; i++) {
      assert.ok(Math.abs(norm(vectors[i]) - 1) < 1e-5, `unit length: ${norm(vectors[i])}`);
      assert.ok(vectors[i].every((x) => x >= -1 && x <= 1));
      for (let j = i + 1; j < vectors.length; j++) {
        const cij = cosine(vectors[i], vectors[j]);
        assert.ok(Math.abs(cij) < 0.3, `${JSON.stringify(UNRELATED[i])} vs ${JSON.stringify(UNRELATED[j])}: ${cij}`);
      }
    }
  });

  test('identical texts embed identically; case and punctuation do not matter', async () => {
    const [a, b, c] = await embedOpenai(['Hello, World!', 'Hello, World!', 'hello world']);
    assert.deepEqual(a, b);
    assert.ok(Math.abs(cosine(a, b) - 1) < 1e-6);
    assert.ok(Math.abs(cosine(a, c) - 1) < 1e-6);
  });

  test('every face and dimension count agrees; garbage negates', async () => {
    const texts = [...SIMILAR, 'Bananas ripen faster next to apples', ''];
    const openai = await embedOpenai(texts);
    const gemini = await embedGemini(texts);
    assert.equal(openai[0].length, 256, 'the default dimension count');
    assert.deepEqual(gemini, openai);

    for (const dims of [1, 3, 64, 1024]) {
      const small = await embedOpenai(SIMILAR, { dimensions: dims });
      assert.deepEqual(await embedGemini(SIMILAR, { outputDimensionality: dims }), small);
      assert.ok(small.every((v) => v.length === dims && Math.abs(norm(v) - 1) < 1e-5));
      assert.ok(cosine(small[0], small[1]) > 0.9, `${dims} dimensions: ${cosine(small[0], small[1])}`);
    }

    await sim.fault({ mode: 'garbage' });
    const wrong = await embedOpenai(texts);
    for (let i = 0; i < texts.length; i++) {
      assert.ok(Math.abs(cosine(wrong[i], openai[i]) + 1) < 1e-6, 'garbage: the opposite direction');
    }
  });
});
