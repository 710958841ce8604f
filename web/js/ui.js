// What every page shares: building elements (never innerHTML with data),
// the header (search with live suggestions, who is logged in), messages
// for errors, posters (generated when there is no picture), movie cards
// and the half-star rating control.

import * as api from './api.js';

// el('a', {href: '/x', class: 'c'}, 'text', child, ...)
export function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === undefined || v === null || v === false) continue;
        if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
        else if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = v;
        else e.setAttribute(k, v === true ? '' : String(v));
    }
    append(e, children);
    return e;
}

function append(e, children) {
    for (const c of children.flat()) {
        if (c === undefined || c === null || c === false) continue;
        e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, ...children) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
}

// MovieLens 100k's occupations, offered (not imposed) in forms.
export const OCCUPATIONS = ['administrator', 'artist', 'doctor', 'educator', 'engineer', 'entertainment', 'executive',
    'healthcare', 'homemaker', 'lawyer', 'librarian', 'marketing', 'none', 'other', 'programmer', 'retired',
    'salesman', 'scientist', 'student', 'technician', 'writer'];

export const params = () => new URLSearchParams(location.search);
export const movieHref = (id) => '/movie.html?id=' + encodeURIComponent(id);
export const genreHref = (g) => '/genre.html?name=' + encodeURIComponent(g);

export function yearOf(m) {
    return m.year ? String(m.year) : '';
}

export function titleWithYear(m) {
    return m.year ? `${m.title} (${m.year})` : m.title;
}

export function formatRating(m) {
    if (!m.rating_count) return 'no ratings yet';
    return `★ ${Number(m.rating_mean).toFixed(1)} · ${m.rating_count.toLocaleString()} rating${m.rating_count === 1 ? '' : 's'}`;
}

export function formatDate(unix) {
    return new Date(unix * 1000).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

// ---------------- posters ----------------

const GENRE_COLOURS = {
    Action: '#b3261e', Adventure: '#c2560c', Animation: '#d48806', "Children's": '#4d8b1f',
    Children: '#4d8b1f', Comedy: '#b08800', Crime: '#2b2f3a', Documentary: '#0f766e',
    Drama: '#1e3a8a', Fantasy: '#6d28d9', 'Film-Noir': '#111318', Horror: '#4a0c0c',
    IMAX: '#0b4f6c', Musical: '#b01e6a', Mystery: '#2e2a6e', Romance: '#c0265e',
    'Sci-Fi': '#0b6f84', Thriller: '#3b4252', War: '#4b5a2a', Western: '#8a4b12',
};

function colourOf(genre, fallback) {
    if (GENRE_COLOURS[genre]) return GENRE_COLOURS[genre];
    let h = 0;
    for (const ch of genre || '') h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    return genre ? `hsl(${h % 360} 45% 32%)` : fallback;
}

// Title words into at most 5 lines of about 13 characters.
function wrapTitle(title) {
    const words = title.split(/\s+/).filter(Boolean);
    const lines = [];
    let line = '';
    for (const w of words) {
        if (line && (line + ' ' + w).length > 13) {
            lines.push(line);
            line = w;
        } else {
            line = line ? line + ' ' + w : w;
        }
    }
    if (line) lines.push(line);
    const out = lines.slice(0, 5).map((l) => (l.length > 16 ? l.slice(0, 15) + '…' : l));
    if (lines.length > 5) out[4] = out[4].replace(/…?$/, '…');
    return out;
}

let posterSeq = 0;
// A poster for a movie: the generated one at once (title, year, colours
// of its genres), the real picture laid over it only once it has loaded,
// so no page ever shows a broken image.
export function poster(m) {
    const g = m.genres || [];
    const c1 = colourOf(g[0], '#555b66');
    const c2 = colourOf(g[1] || g[0], '#2a2d33');
    const id = 'pg' + ++posterSeq;
    const lines = wrapTitle(m.title || '?');
    const top = 150 - lines.length * 14;
    const art = svg('svg', { viewBox: '0 0 200 300', 'aria-hidden': 'true', focusable: 'false', preserveAspectRatio: 'xMidYMid slice' },
        svg('defs', {}, svg('linearGradient', { id, x1: 0, y1: 0, x2: 0.4, y2: 1 },
            svg('stop', { offset: '0', 'stop-color': c1 }), svg('stop', { offset: '1', 'stop-color': c2 }))),
        svg('rect', { width: 200, height: 300, fill: `url(#${id})` }),
        svg('rect', { x: 12, y: 12, width: 176, height: 276, fill: 'none', stroke: 'rgba(255,255,255,.35)', 'stroke-width': 2 }),
        ...lines.map((l, i) => svg('text', {
            x: 100, y: top + i * 28, 'text-anchor': 'middle', fill: '#fff',
            'font-family': 'Georgia, "DejaVu Serif", serif', 'font-size': 22, 'font-weight': 700,
        }, l)),
        svg('text', { x: 100, y: 262, 'text-anchor': 'middle', fill: 'rgba(255,255,255,.8)', 'font-family': 'system-ui, sans-serif', 'font-size': 16 }, yearOf(m)),
    );
    const box = el('div', { class: 'poster', role: 'img', 'aria-label': 'Poster: ' + titleWithYear(m) }, art);
    if (m.poster_url) {
        const img = el('img', { alt: '', loading: 'lazy', decoding: 'async' });
        img.addEventListener('load', () => img.classList.add('loaded'));
        img.addEventListener('error', () => img.remove());
        img.src = m.poster_url;
        box.append(img);
    }
    return box;
}

// ---------------- movie cards ----------------

// A card: poster and title linking to the movie page, year and average
// rating; opts.reason adds the recommendation's reason, opts.extra a node.
export function card(m, opts = {}) {
    const href = movieHref(m.id);
    return el('li', { class: 'card', 'data-movie-id': m.id },
        el('a', { href, class: 'poster-link', tabindex: '-1', 'aria-hidden': 'true' }, poster(m)),
        el('a', { href, class: 'title' }, m.title),
        el('span', { class: 'meta' }, [yearOf(m), formatRating(m)].filter(Boolean).join(' · ')),
        opts.reason ? el('span', { class: 'reason' }, opts.reason) : null,
        opts.extra || null,
    );
}

export function cardList(list, opts = {}) {
    const ul = el('ul', { class: opts.row ? 'row' : 'grid' });
    if (opts.label) ul.setAttribute('aria-label', opts.label);
    for (const m of list) ul.append(card(m, typeof opts.each === 'function' ? opts.each(m) : opts));
    return ul;
}

// ---------------- half-star rating ----------------

const STAR = 'M12 1.6l3.1 6.9 7.5.7-5.7 5 1.7 7.4L12 17.8l-6.6 3.8 1.7-7.4-5.7-5 7.5-.7z';
let starSeq = 0;

// A rating control: ten radio buttons (½ to 5 stars) drawn as half stars,
// so arrows, Tab and screen readers work as for any radio group.
// onChange(score) saves a score and resolves true when it was saved (false
// puts the control back to the last saved score); it is called 400 ms
// after the last change, so stepping with the arrows saves once, and never
// while an earlier save is still under way. onClear() removes the rating
// the same way ("Remove rating"). Returns the fieldset; .set(score) shows
// a score as saved.
export function stars({ value = null, label = 'Your rating', small = false, onChange, onClear }) {
    const name = 'stars' + ++starSeq;
    const fs = el('fieldset', { class: 'stars' + (small ? ' small' : '') });
    fs.append(el('legend', { class: small ? 'visually-hidden' : '' }, label));
    const row = el('span', { class: 'star-row' });
    const labels = [];
    const inputs = [];
    let current = value; // shown
    let saved = value; // what the server has
    let timer = 0;
    let chain = Promise.resolve();
    // one save at a time, in order; a failure shows the saved score again
    function commit(fn, score) {
        chain = chain.then(async () => {
            let ok = false;
            try {
                ok = (await fn(score)) !== false;
            } catch (e) {
                ok = false;
            }
            if (ok) saved = score;
            if (!ok || current === score) fs.set(ok ? score : saved);
        });
        return chain;
    }
    for (let i = 1; i <= 10; i++) {
        const score = i / 2;
        const id = `${name}-${i}`;
        const input = el('input', { type: 'radio', name, id, value: score });
        const half = i % 2 === 1 ? '0 0 12 24' : '12 0 12 24';
        const lab = el('label', { for: id, title: `${score} star${score === 1 ? '' : 's'}` },
            svg('svg', { viewBox: half, 'aria-hidden': 'true' }, svg('path', { d: STAR })),
            el('span', { class: 'visually-hidden' }, `${score} star${score === 1 ? '' : 's'}`));
        input.addEventListener('change', () => {
            current = score;
            paint(score);
            clearTimeout(timer);
            if (onChange) timer = setTimeout(() => commit(onChange, score), 400);
        });
        lab.addEventListener('mouseenter', () => paint(score));
        inputs.push(input);
        labels.push(lab);
        row.append(input, lab);
    }
    row.addEventListener('mouseleave', () => paint(current));
    const shown = el('span', { class: 'value', 'aria-hidden': 'true' });
    fs.append(row, shown);
    let clear = null;
    if (onClear) {
        clear = el('button', { type: 'button', class: 'secondary clear' }, 'Remove rating');
        clear.addEventListener('click', () => {
            clearTimeout(timer);
            current = null;
            commit(onClear, null).then(() => {
                if (saved === null) inputs[0].focus(); // the button hid itself
            });
        });
        fs.append(clear);
    }
    function paint(v) {
        labels.forEach((l, i) => l.classList.toggle('on', v !== null && (i + 1) / 2 <= v));
        shown.textContent = v === null ? 'not rated' : `${v} / 5`;
    }
    fs.set = (v) => {
        current = v;
        saved = v;
        inputs.forEach((inp) => (inp.checked = v !== null && Number(inp.value) === v));
        if (clear) clear.hidden = v === null;
        paint(v);
    };
    fs.set(value);
    return fs;
}

// A function that tells, for each call of a loader, whether a newer call
// has started since: const fresh = seq(); ... if (!fresh()) return;
export function sequence() {
    let n = 0;
    return () => {
        const mine = ++n;
        return () => mine === n;
    };
}

// ---------------- messages ----------------

let liveRegion = null;
// Says something to screen-reader users (and shows it in the status line
// when the page has one).
export function announce(text) {
    if (!liveRegion) liveRegion = document.getElementById('live');
    if (liveRegion) {
        liveRegion.textContent = '';
        setTimeout(() => (liveRegion.textContent = text), 30);
    }
}

const LOGGED_IN = 'movierec.loggedIn';

// The banner at the top for a server that cannot be reached.
export function showUnreachable() {
    const b = document.getElementById('banner');
    if (!b) return;
    b.replaceChildren(
        el('strong', {}, 'Cannot reach the movierec server.'),
        el('span', {}, 'Check that it is running and that you are online, then try again.'),
        el('button', { type: 'button', class: 'secondary', onclick: () => location.reload() }, 'Try again'),
    );
    b.hidden = false;
}

// The banner at the top with one message of its own.
export function showProblem(text) {
    const b = document.getElementById('banner');
    if (!b) return;
    b.replaceChildren(el('span', {}, text));
    b.hidden = false;
}

// A message box for an error, in place of what could not be shown.
export function errorBox(err, what) {
    if (err instanceof api.ApiError) {
        if (err.status === 0) {
            showUnreachable();
            return el('div', { class: 'message error', role: 'alert' },
                what ? `${what}: the server cannot be reached right now.` : 'The server cannot be reached right now.');
        }
        if (err.status === 401) return loginNeeded();
        if (err.status === 503 && err.code === 'no_model')
            return el('div', { class: 'message', role: 'status' },
                'Recommendations are not ready yet: the models are still being trained. Try again in a few minutes.');
        if (err.status === 404)
            return el('div', { class: 'message error', role: 'alert' }, what ? `${what}: not found.` : 'Not found.');
        return el('div', { class: 'message error', role: 'alert' }, `${what ? what + ': ' : ''}${err.message}`);
    }
    console.error(err);
    return el('div', { class: 'message error', role: 'alert' }, `${what ? what + ': ' : ''}something went wrong on this page.`);
}

// "Log in" message: different words when a session this browser had has
// ended (expired or logged out elsewhere).
export function loginNeeded() {
    const next = location.pathname + location.search;
    const link = el('a', { href: '/login.html?next=' + encodeURIComponent(next) }, 'Log in');
    if (localStorage.getItem(LOGGED_IN)) {
        localStorage.removeItem(LOGGED_IN);
        return el('div', { class: 'message', role: 'alert', id: 'session-expired' },
            el('h2', {}, 'Your session has ended'),
            'You were logged out (the session expired or was ended). ', link, ' again to go on.');
    }
    return el('div', { class: 'message', role: 'status' }, link, ' to see this page, or ',
        el('a', { href: '/register.html' }, 'create an account'), '.');
}

export function markLoggedIn(on) {
    if (on) localStorage.setItem(LOGGED_IN, '1');
    else localStorage.removeItem(LOGGED_IN);
}

// ---------------- header ----------------

function headerNav(user) {
    const ul = el('ul');
    if (user) {
        ul.append(
            el('li', {}, el('a', { href: '/me.html' }, 'My page')),
            el('li', {}, el('a', { href: '/profile.html' }, 'Profile')),
            el('li', { class: 'user-name hide-narrow' }, user.name),
            el('li', {}, el('button', {
                type: 'button', class: 'link-button', id: 'logout',
                onclick: async () => {
                    try {
                        await api.logout();
                    } catch (e) {
                        if (e.status === 0) return showUnreachable();
                        if (e.status !== 401) return showProblem('You were not logged out: ' + e.message);
                    }
                    markLoggedIn(false);
                    location.href = '/';
                },
            }, 'Log out')),
        );
    } else {
        ul.append(
            el('li', {}, el('a', { href: '/login.html' }, 'Log in')),
            el('li', {}, el('a', { href: '/register.html' }, 'Register')),
        );
    }
    return ul;
}

// Live suggestions under the header's search box (the ARIA combobox
// pattern: arrows move, Enter opens, Escape closes).
function searchBox(form) {
    const input = form.querySelector('input');
    const list = form.querySelector('.suggestions');
    let items = [];
    let active = -1;
    let timer = 0;
    let seq = 0;
    input.value = location.pathname === '/search.html' ? params().get('q') || '' : '';

    function close() {
        list.hidden = true;
        input.setAttribute('aria-expanded', 'false');
        input.removeAttribute('aria-activedescendant');
        active = -1;
    }
    function highlight(i) {
        active = i;
        [...list.children].forEach((li, j) => li.setAttribute('aria-selected', j === i ? 'true' : 'false'));
        if (i >= 0) input.setAttribute('aria-activedescendant', list.children[i].id);
        else input.removeAttribute('aria-activedescendant');
    }
    async function suggest() {
        const q = input.value.trim();
        const mine = ++seq;
        if (q.length < 2) return close();
        let data;
        try {
            data = await api.search({ q, per_page: 6 });
        } catch (e) {
            if (e.status === 0) showUnreachable();
            return close();
        }
        if (mine !== seq) return;
        items = data.movies;
        list.replaceChildren(...items.map((m, i) => el('li', {
            role: 'option', id: 'suggestion-' + i, 'aria-selected': 'false',
            onmousedown: (ev) => {
                ev.preventDefault();
                location.href = movieHref(m.id);
            },
        }, el('span', {}, m.title), el('span', { class: 'year' }, yearOf(m)))));
        if (!items.length) list.append(el('li', { role: 'option', 'aria-disabled': 'true', class: 'none' }, 'No movie matches'));
        list.hidden = false;
        input.setAttribute('aria-expanded', 'true');
        highlight(-1);
    }
    input.addEventListener('input', () => {
        clearTimeout(timer);
        timer = setTimeout(suggest, 150);
    });
    input.addEventListener('keydown', (ev) => {
        if (list.hidden) return;
        if (ev.key === 'Escape') return close();
        if (!items.length) return;
        if (ev.key === 'ArrowDown') {
            ev.preventDefault();
            highlight((active + 1) % items.length);
        } else if (ev.key === 'ArrowUp') {
            ev.preventDefault();
            highlight(active <= 0 ? items.length - 1 : active - 1);
        } else if (ev.key === 'Enter' && active >= 0) {
            ev.preventDefault();
            location.href = movieHref(items[active].id);
        }
    });
    input.addEventListener('blur', () => setTimeout(close, 100));
    form.addEventListener('submit', (ev) => {
        if (!input.value.trim()) ev.preventDefault();
    });
}

function buildHeader() {
    const header = document.querySelector('.site-header');
    if (!header) return null;
    const form = el('form', { class: 'site-search', role: 'search', action: '/search.html', method: 'get' },
        el('label', { for: 'q', class: 'visually-hidden' }, 'Search movies by title'),
        el('input', {
            id: 'q', name: 'q', type: 'search', placeholder: 'Search movies…', autocomplete: 'off',
            role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': 'suggestions',
        }),
        el('button', { type: 'submit' }, 'Search'),
        el('ul', { id: 'suggestions', class: 'suggestions', role: 'listbox', 'aria-label': 'Suggestions', hidden: true }),
    );
    const nav = el('nav', { class: 'site-nav', 'aria-label': 'Account' });
    header.replaceChildren(
        el('a', { href: '/', class: 'brand' }, 'movie', el('span', {}, 'rec')),
        form, nav);
    searchBox(form);
    return nav;
}

// Starts a page: the header, then render(user) for the main part; an
// error that escapes render becomes a message, never a blank page.
export async function startPage(render) {
    const nav = buildHeader();
    const main = document.getElementById('main');
    let user = null;
    try {
        user = await api.currentUser();
    } catch (e) {
        // unreachable or failing: no page can be shown, nor "log in" offered
        main.append(errorBox(e));
        main.setAttribute('aria-busy', 'false');
        return;
    }
    if (user) markLoggedIn(true);
    if (nav) nav.append(headerNav(user));
    try {
        await render(main, user);
    } catch (e) {
        main.append(errorBox(e));
    }
    main.setAttribute('aria-busy', 'false');
}

// Prev / next buttons for a paged list; go(page) shows that page.
export function pager(data, go) {
    const pages = Math.max(1, Math.ceil(data.total / data.per_page));
    const nav = el('nav', { class: 'pager', 'aria-label': 'Pages' });
    const prev = el('button', { type: 'button', class: 'secondary', disabled: data.page <= 1 }, '← Previous');
    const next = el('button', { type: 'button', class: 'secondary', disabled: data.page >= pages }, 'Next →');
    prev.addEventListener('click', () => go(data.page - 1));
    next.addEventListener('click', () => go(data.page + 1));
    nav.append(prev, el('span', {}, `Page ${data.page} of ${pages}`), next);
    return nav;
}
