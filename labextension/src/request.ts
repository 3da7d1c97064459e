/**
 * `requestAPI`: one call to the nbassets server API, with its errors turned into readable text.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IErrorPayload } from './tokens';

/** What the panel says when the server has no nbassets routes. */
export const NOT_ENABLED = 'the nbassets server extension is not enabled: pip install nbassets';

/** A failed API call; `message` is meant for the user. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number | null
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * Call `/nbassets/api/<endPoint>` and return its JSON body.
 *
 * A 404 without an nbassets error body means the routes are not there (the server
 * extension is off) and becomes {@link NOT_ENABLED}; any other error answer becomes
 * its `message`; a network failure says the server cannot be reached.
 */
export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, 'nbassets', 'api', endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ApiError(`cannot reach the Jupyter server: ${String(error)}`, null);
  }
  const text = await response.text();
  const body = parseJSON(text);
  if (!response.ok) {
    throw new ApiError(errorMessage(response, body), response.status);
  }
  if (body === undefined) {
    throw new ApiError(
      `the nbassets API answered ${url} with something that is not JSON`,
      response.status
    );
  }
  return body as T;
}

/** A query string from parameters, each value encoded. */
export function query(params: Record<string, string>): string {
  const parts = Object.entries(params).map(
    ([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`
  );
  return parts.length ? `?${parts.join('&')}` : '';
}

function errorMessage(response: Response, body: unknown): string {
  const message = isErrorPayload(body) ? body.message : null;
  if (response.status === 404 && !message) {
    return NOT_ENABLED;
  }
  return message || `the nbassets API failed: ${response.status} ${response.statusText}`;
}

function parseJSON(text: string): unknown {
  if (!text) {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isErrorPayload(body: unknown): body is IErrorPayload {
  return (
    typeof body === 'object' &&
    body !== null &&
    typeof (body as { message?: unknown }).message === 'string'
  );
}
