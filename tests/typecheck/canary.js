// The check's own test: each line below is drift the type check must catch.
// `@ts-expect-error` fails the check when the line after it has no error, so
// if the generated types ever degrade to `any` (a broken generator, a path
// mapping gone wrong) the check fails instead of passing everything.
import { api } from '../../web/app/api.js';

export async function canary() {
  const notices = await api.get('/notices', { query: { status: 'active' } });
  // a field the Notice schema does not have (the old notices page read it)
  // @ts-expect-error
  void notices.items[0].holder_org_name;
  // a query parameter the operation does not take
  // @ts-expect-error
  await api.get('/results', { query: { org_id: 1 } });
  // a body field the operation does not take (the old result form sent it)
  // @ts-expect-error
  await api.post('/results', { body: { title: 't', auction: {} } });
  // a path the spec does not list
  // @ts-expect-error
  await api.get('/results/{id}/nothing', { path: { id: 1 } });
  /** @type {Record<import('../../web/app/api-types').ErrorCode, string>} */
  // a FieldError code without its text
  // @ts-expect-error
  const texts = { required: '此项为必填项' };
  return texts;
}
