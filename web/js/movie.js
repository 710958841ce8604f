// A movie: poster, facts, links, what we predict for you, your rating
// (half stars) and tags, who liked it, and similar movies.
import * as api from './api.js';
import { el, startPage, poster, stars, cardList, params, genreHref, errorBox, announce, loginNeeded, showUnreachable, titleWithYear } from './ui.js';

const LIKED_BY_MAX = 8; // the API names at most this many

function fact(name, value) {
    return value === null || value === undefined || value === '' ? [] : [el('dt', {}, name), el('dd', {}, value)];
}

// Only web addresses become links: an imported file could hold anything.
const webUrl = (u) => (typeof u === 'string' && /^https?:\/\//i.test(u) ? u : null);

function links(m) {
    const out = [];
    const imdb = webUrl(m.imdb_url);
    const tmdb = webUrl(m.tmdb_url);
    if (imdb) out.push(el('a', { href: imdb, rel: 'noopener noreferrer', target: '_blank' }, 'IMDb'));
    if (tmdb) out.push(el('a', { href: tmdb, rel: 'noopener noreferrer', target: '_blank' }, 'TMDB'));
    if (!out.length) return null;
    const span = el('span', { class: 'links' });
    out.forEach((a, i) => span.append(i ? ' · ' : '', a));
    return span;
}

// The write failed: say why, next to the control.
function writeError(status, e) {
    if (e.status === 0) {
        showUnreachable();
        status.textContent = 'Not saved: the server cannot be reached.';
    } else if (e.status === 401) {
        status.replaceChildren(loginNeeded());
    } else {
        status.textContent = 'Not saved: ' + e.message;
    }
}

function ratingPanel(m, user) {
    const box = el('section', { class: 'panel', 'aria-labelledby': 'mine-h' }, el('h2', { id: 'mine-h' }, 'You and this movie'));
    if (!user) {
        box.append(el('p', {}, el('a', { href: '/login.html?next=' + encodeURIComponent(location.pathname + location.search) }, 'Log in'),
            ' to rate this movie, tag it, and see how much we think you will like it.'));
        return box;
    }
    if (typeof m.predicted === 'number')
        box.append(el('p', { class: 'predicted', id: 'predicted' },
            `Predicted for you: ${Math.round(m.predicted * 100)}% chance you will like it`));
    const status = el('p', { class: 'status', role: 'status' });
    const control = stars({
        value: m.my_rating ?? null,
        label: 'Your rating',
        onChange: async (score) => {
            status.textContent = 'Saving…';
            try {
                await api.rate(m.id, score);
                status.textContent = `Saved: ${score} star${score === 1 ? '' : 's'}. Your recommendations are updated.`;
                return true;
            } catch (e) {
                writeError(status, e);
                return false;
            }
        },
        onClear: async () => {
            try {
                await api.unrate(m.id);
                status.textContent = 'Rating removed.';
                return true;
            } catch (e) {
                if (e.status === 404) { // it was not there: nothing to remove
                    status.textContent = 'Rating removed.';
                    return true;
                }
                writeError(status, e);
                return false;
            }
        },
    });
    control.id = 'my-rating';
    box.append(control, status, tagsPanel(m));
    return box;
}

function tagsPanel(m) {
    const list = el('ul', { class: 'chips', 'aria-label': 'Your tags' });
    const status = el('p', { class: 'status', role: 'status' });
    function add(tag) {
        const li = el('li', { class: 'chip' }, tag, el('button', {
            type: 'button', 'aria-label': `Remove tag ${tag}`,
            onclick: async () => {
                try {
                    await api.removeTag(m.id, tag);
                    li.remove();
                    input.focus();
                    status.textContent = `Tag “${tag}” removed.`;
                } catch (e) {
                    writeError(status, e);
                }
            },
        }, '×'));
        list.append(li);
    }
    const input = el('input', { type: 'text', id: 'new-tag', maxlength: 64, placeholder: 'e.g. mind-bending' });
    (m.my_tags || []).forEach((t) => add(typeof t === 'string' ? t : t.tag));
    const form = el('form', { class: 'tag-form' }, input, el('button', { type: 'submit' }, 'Add tag'));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const tag = input.value.trim();
        if (!tag) return;
        try {
            await api.addTag(m.id, tag);
            add(tag);
            input.value = '';
            status.textContent = `Tag “${tag}” added.`;
        } catch (e) {
            if (e.code === 'conflict') status.textContent = `You already tagged it “${tag}”.`;
            else writeError(status, e);
        }
    });
    return el('div', {}, el('h3', {}, el('label', { for: 'new-tag' }, 'Your tags')), list, form, status);
}

startPage(async (main, user) => {
    const id = params().get('id');
    const h1 = main.querySelector('h1');
    if (!id || !/^\d+$/.test(id)) {
        h1.textContent = 'Movie not found';
        main.append(el('p', { class: 'message error', role: 'alert' }, 'This address does not name a movie. ', el('a', { href: '/' }, 'Browse movies'), '.'));
        return;
    }
    let m;
    try {
        m = (await api.movie(id)).movie;
    } catch (e) {
        if (e.status === 404) {
            h1.textContent = 'Movie not found';
            document.title = 'Movie not found · movierec';
            main.append(el('p', { class: 'message error', role: 'alert' }, `There is no movie #${id}. `, el('a', { href: '/' }, 'Browse movies'), ' or search above.'));
            return;
        }
        throw e;
    }
    document.title = titleWithYear(m) + ' · movierec';
    h1.textContent = m.title;
    const genres = el('ul', { class: 'chips', 'aria-label': 'Genres' }, ...(m.genres || []).map((g) => el('li', {}, el('a', { class: 'chip', href: genreHref(g) }, g))));
    const facts = el('dl', { class: 'facts' },
        ...fact('Year', m.year),
        ...fact('Released', m.release_date),
        ...fact('Average rating', m.rating_count ? `★ ${Number(m.rating_mean).toFixed(2)} from ${m.rating_count.toLocaleString()} rating${m.rating_count === 1 ? '' : 's'}` : 'no ratings yet'),
        ...fact('Links', links(m)),
    );
    const likedBy = m.liked_by && m.liked_by.length
        ? el('p', { class: 'liked-by' }, 'Liked by ', m.liked_by.map((u) => u.name).join(', '), m.liked_by.length >= LIKED_BY_MAX ? ' and others' : '', '.')
        : null;
    const body = el('div', {}, genres, facts, likedBy, ratingPanel(m, user));
    h1.remove();
    body.prepend(h1);
    main.append(el('article', { class: 'movie' }, el('div', { class: 'poster-wrap' }, poster(m)), body));

    const sim = el('section', { 'aria-labelledby': 'similar-h' }, el('h2', { id: 'similar-h' }, 'Similar movies'), el('p', { class: 'loading' }, 'Loading…'));
    main.append(sim);
    try {
        const d = await api.similar(m.id, 12);
        sim.querySelector('.loading').replaceWith(d.similar.length ? cardList(d.similar, { label: 'Similar movies' }) : el('p', {}, 'No similar movies found.'));
    } catch (e) {
        sim.querySelector('.loading').replaceWith(errorBox(e, 'Similar movies'));
    }
});
