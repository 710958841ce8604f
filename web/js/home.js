// Home: a row of popular movies per genre with "more" links; once logged
// in, "Recommended for you" on top.
import * as api from './api.js';
import { el, startPage, cardList, genreHref, errorBox } from './ui.js';

const PER_ROW = 12;

async function recommendedRow(main, user) {
    const section = el('section', { 'aria-labelledby': 'rec-h' },
        el('div', { class: 'row-head' },
            el('h2', { id: 'rec-h' }, `Recommended for you, ${user.name}`),
            el('a', { href: '/me.html' }, 'Why these? My page')),
        el('p', { class: 'loading' }, 'Finding movies for you…'));
    main.append(section);
    try {
        const d = await api.recommendations(PER_ROW);
        section.querySelector('.loading').remove();
        if (!d.recommendations.length)
            section.append(el('p', {}, 'Rate a few movies and your recommendations appear here.'));
        else
            section.append(cardList(d.recommendations, { row: true, label: 'Recommended for you', each: (m) => ({ reason: m.reason }) }));
    } catch (e) {
        section.querySelector('.loading').replaceWith(errorBox(e, 'Recommendations'));
    }
}

async function genreRow(section, g) {
    try {
        const d = await api.movies({ genre: g.name, sort: 'popular', per_page: PER_ROW });
        section.querySelector('.loading').replaceWith(cardList(d.movies, { row: true, label: g.name }));
    } catch (e) {
        section.querySelector('.loading').replaceWith(errorBox(e, g.name));
    }
}

startPage(async (main, user) => {
    main.querySelector('h1').textContent = user ? 'Movies' : 'Find a movie to watch';
    if (!user)
        main.append(el('p', { class: 'lead' },
            'Browse by genre, or ', el('a', { href: '/register.html' }, 'create an account'),
            ' and rate a few movies to get recommendations made for you.'));
    if (user) await recommendedRow(main, user);
    const { genres } = await api.genres();
    const rows = genres.filter((g) => g.movies > 0).sort((a, b) => b.ratings - a.ratings);
    const jobs = [];
    for (const g of rows) {
        const id = 'genre-' + g.name.replace(/[^A-Za-z0-9]/g, '');
        const section = el('section', { 'aria-labelledby': id },
            el('div', { class: 'row-head' },
                el('h2', { id }, g.name),
                el('a', { href: genreHref(g.name), 'aria-label': `More ${g.name} movies` }, `More (${g.movies})`)),
            el('p', { class: 'loading' }, 'Loading…'));
        main.append(section);
        jobs.push(genreRow(section, g));
    }
    await Promise.all(jobs);
});
