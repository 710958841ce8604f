// After registering: pick favourite genres (interest tags), then rate a
// few well-known movies of those genres, so the first recommendations are
// already personal. Both steps can be skipped.
import * as api from './api.js';
import { el, startPage, poster, stars, errorBox, loginNeeded, showUnreachable, movieHref } from './ui.js';

function steps(current) {
    const names = ['Pick genres', 'Rate movies you know', 'Your recommendations'];
    return el('ol', { class: 'steps', 'aria-label': 'Steps' }, ...names.map((n, i) => el('li', { 'aria-current': i === current ? 'step' : null }, `${i + 1}. ${n}`)));
}

async function pickGenres(main, done) {
    const { genres } = await api.genres();
    const prof = await api.profile();
    const chosen = new Set(prof.interests.genres);
    const picker = el('div', { class: 'genre-picker' });
    for (const g of genres.filter((x) => x.movies > 0)) {
        const box = el('input', { type: 'checkbox', name: 'genre', value: g.name, checked: chosen.has(g.name) });
        picker.append(el('label', {}, box, el('span', {}, g.name)));
    }
    const msg = el('div');
    const form = el('form', { id: 'pick-genres' },
        el('fieldset', {}, el('legend', {}, 'Which genres do you enjoy? Pick as many as you like.'), picker),
        msg, el('p', {}, el('button', { type: 'submit' }, 'Next'), ' ', el('a', { href: '/me.html' }, 'Skip the welcome')));
    main.append(steps(0), form);
    const next = form.querySelector('button[type=submit]');
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        if (next.disabled) return;
        next.disabled = true;
        const picked = [...form.querySelectorAll('input[name=genre]:checked')].map((i) => i.value);
        try {
            await api.saveProfile({ genres: picked });
        } catch (e) {
            msg.replaceChildren(errorBox(e, 'Saving your genres'));
            next.disabled = false;
            return;
        }
        done(picked);
    });
}

// Popular movies of the picked genres (or of all), taking turns between
// genres so each gets a few.
async function wellKnown(picked) {
    const lists = picked.length
        ? await Promise.all(picked.slice(0, 6).map((g) => api.movies({ genre: g, sort: 'popular', per_page: 12 })))
        : [await api.movies({ sort: 'popular', per_page: 16 })];
    const seen = new Set();
    const out = [];
    for (let i = 0; out.length < 16 && i < 16; i++)
        for (const l of lists) {
            const m = l.movies[i];
            if (m && !seen.has(m.id) && out.length < 16) {
                seen.add(m.id);
                out.push(m);
            }
        }
    return out;
}

async function rateSome(main, picked) {
    main.append(steps(1), el('p', {}, 'Rate the ones you have seen (½ to 5 stars); leave the others. A handful is enough.'));
    const count = el('p', { class: 'status', role: 'status', id: 'rated-count' }, 'You rated 0 movies.');
    const rated = new Set();
    const grid = el('ul', { class: 'grid', id: 'onboarding-movies', 'aria-label': 'Well-known movies' });
    for (const m of await wellKnown(picked)) {
        const status = el('span', { class: 'meta' });
        grid.append(el('li', { class: 'card', 'data-movie-id': m.id },
            poster(m), el('a', { class: 'title', href: movieHref(m.id), target: '_blank' }, m.title),
            el('span', { class: 'meta' }, m.year || ''),
            stars({
                small: true, label: `Rate ${m.title}`,
                onChange: async (s) => {
                    try {
                        await api.rate(m.id, s);
                        rated.add(m.id);
                        status.textContent = 'saved';
                        count.textContent = `You rated ${rated.size} movie${rated.size === 1 ? '' : 's'}.`;
                        return true;
                    } catch (e) {
                        if (e.status === 0) showUnreachable();
                        status.textContent = e.status === 401 ? 'log in again' : 'not saved: ' + e.message;
                        return false;
                    }
                },
            }), status));
    }
    main.append(grid, count, el('p', {}, el('a', { class: 'button', href: '/me.html', id: 'see-recs' }, 'See my recommendations')));
}

startPage(async (main, user) => {
    if (!user) {
        main.append(loginNeeded());
        return;
    }
    main.querySelector('h1').textContent = `Welcome, ${user.name}`;
    const stage = el('div');
    main.append(stage);
    await pickGenres(stage, async (picked) => {
        stage.replaceChildren();
        try {
            await rateSome(stage, picked);
        } catch (e) {
            stage.append(errorBox(e));
        }
        main.focus();
    });
});
