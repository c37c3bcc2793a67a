// Types of the API for the screens, derived from api/openapi.yaml.
//
// `yizhan-openapi` is generated from the spec by openapi-typescript when the
// check runs (tests/typecheck/run.sh; nothing generated is committed), so the
// spec stays the one contract: a screen that reads a field a response does not
// have, sends a body field or query parameter an operation does not take, or
// calls a path the spec does not list fails `make test`.  The browser never
// loads this file: the screens name these types in JSDoc comments only.
import type { paths, components } from 'yizhan-openapi';

export type Schemas = components['schemas'];
export type Schema<N extends keyof Schemas> = Schemas[N];

/** The machine-readable reason of a field problem (FieldError.code). */
export type ErrorCode = Schemas['FieldError']['code'];

type Strip<K> = K extends `/api/v1${infer R}` ? R : never;
/** Operations under /api/v1, keyed by their path without the prefix ('/results/{id}'). */
export type ApiPaths = { [K in keyof paths as Strip<K>]: paths[K] };
export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** The paths that have method M. */
export type PathsWith<M extends Method> = {
  [P in keyof ApiPaths]: [NonNullable<ApiPaths[P][M]>] extends [never] ? never : P;
}[keyof ApiPaths];

type Op<P extends keyof ApiPaths, M extends Method> = NonNullable<ApiPaths[P][M]>;

type Params<P extends keyof ApiPaths, M extends Method> = Op<P, M> extends { parameters: infer X } ? X : never;
/** Query parameters of an operation. */
export type Query<P extends keyof ApiPaths, M extends Method> =
  Params<P, M> extends { query?: infer Q } ? ([Q] extends [never] ? never : NonNullable<Q>) : never;
/** Path parameters of an operation ({id} and friends). */
export type PathParams<P extends keyof ApiPaths, M extends Method> =
  Params<P, M> extends { path?: infer X } ? ([X] extends [never] ? never : NonNullable<X>) : never;

/** The JSON request body of an operation. */
export type Body<P extends keyof ApiPaths, M extends Method> =
  Op<P, M> extends { requestBody?: infer R }
    ? NonNullable<R> extends { content: { 'application/json': infer B } } ? B : never
    : never;

type Json<R> = R extends { content: { 'application/json': infer J } } ? J : R extends { content: infer C } ? C[keyof C] : null;
/** The body of the operation's success response (200, 201 or 202; null for 204). */
export type Resp<P extends keyof ApiPaths, M extends Method> =
  Op<P, M> extends { responses: infer R }
    ? R extends { 200: infer X } ? Json<X>
      : R extends { 201: infer X } ? Json<X>
        : R extends { 202: infer X } ? Json<X>
          : null
    : never;

/** What request() takes beside the method and path. */
export interface Opts<P extends keyof ApiPaths, M extends Method> {
  path?: PathParams<P, M>;
  query?: Query<P, M>;
  body?: Body<P, M>;
  headers?: Record<string, string>;
  anonymous?: boolean;
}

/** One item of a list operation's `items`. */
export type Item<P extends PathsWith<'get'>> = Resp<P, 'get'> extends { items: (infer I)[] } ? I : never;

export type Me = Resp<'/me', 'get'>;
export type CodeItem = Item<'/codes/{list}'>;
/** The names of the code lists (GET /codes/{list}). */
export type CodeListName = PathParams<'/codes/{list}', 'get'>['list'];
