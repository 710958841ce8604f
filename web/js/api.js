// The JSON API (docs/API.md) for the pages: one function per use, errors
// as ApiError. Nothing here touches the page.

export class ApiError extends Error {
    // status: the HTTP status, or 0 when the server could not be reached;
    // code: the API's error code ("unknown_name", "name_taken", ...)
    constructor(status, code, message, retryAfter) {
        super(message);
        this.status = status;
        this.code = code;
        this.retryAfter = retryAfter;
    }
}

// A request to the API; resolves to the parsed JSON answer.
export async function api(method, path, body) {
    const opts = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
    if (body !== undefined) {
        opts.headers['Content-Type'] = 'application/json';
        opts.body = JSON.stringify(body);
    }
    let res;
    try {
        res = await fetch(path, opts);
    } catch (e) {
        throw new ApiError(0, 'unreachable', 'The movierec server cannot be reached.');
    }
    let data = null;
    const type = res.headers.get('Content-Type') || '';
    if (type.startsWith('application/json')) {
        try {
            data = await res.json();
        } catch (e) {
            data = null;
        }
    }
    if (!res.ok) {
        const code = (data && data.error) || (res.status >= 500 ? 'internal' : 'http_' + res.status);
        const msg = (data && data.message) || `The server answered ${res.status}.`;
        throw new ApiError(res.status, code, msg, Number(res.headers.get('Retry-After')) || 0);
    }
    if (data === null)
        throw new ApiError(res.status, 'bad_reply', 'The server sent something other than JSON.');
    return data;
}

// A query string from an object, leaving out empty values.
export function qs(params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params))
        if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
    const s = u.toString();
    return s ? '?' + s : '';
}

export const get = (path, params) => api('GET', path + qs(params || {}));

let meOnce = null;
// The logged-in user, or null; asked once per page.
export function currentUser() {
    if (!meOnce) {
        meOnce = api('GET', '/v1/me').then(
            (d) => d.user,
            (e) => {
                if (e.status === 401) return null;
                throw e;
            },
        );
    }
    return meOnce;
}

export const login = (name, password) => api('POST', '/v1/auth/login', { name, password });
export const register = (fields) => api('POST', '/v1/auth/register', fields);
export const logout = () => api('POST', '/v1/auth/logout');
export const genres = () => get('/v1/genres');
export const movies = (params) => get('/v1/movies', params);
export const search = (params) => get('/v1/search', params);
export const movie = (id) => get('/v1/movies/' + encodeURIComponent(id));
export const similar = (id, n) => get('/v1/movies/' + encodeURIComponent(id) + '/similar', { n });
export const recommendations = (n) => get('/v1/me/recommendations', { n });
export const myRatings = (params) => get('/v1/me/ratings', params);
export const myGenres = () => get('/v1/me/genres');
export const profile = () => get('/v1/me/profile');
export const saveProfile = (fields) => api('PUT', '/v1/me/profile', fields);
export const rate = (id, score) => api('PUT', '/v1/me/ratings/' + encodeURIComponent(id), { score });
export const unrate = (id) => api('DELETE', '/v1/me/ratings/' + encodeURIComponent(id));
export const addTag = (id, tag) => api('POST', '/v1/me/tags/' + encodeURIComponent(id), { tag });
export const removeTag = (id, tag) =>
    api('DELETE', '/v1/me/tags/' + encodeURIComponent(id) + '/' + encodeURIComponent(tag));
